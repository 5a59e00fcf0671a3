package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
)

// loginFlags are docker login's flags, plus the registry options.
type loginFlags struct {
	rf            registryFlags
	user, pass    string
	passwordStdin bool
}

func init() {
	var lf loginFlags
	register(&command{
		name:  "login",
		usage: "[-u USER] [-p PASS | --password-stdin] [--insecure] [--cert-dir DIR] [SERVER]",
		short: "Log in to a registry (writes Docker's config.json, as docker login)",
		long: `Checks the credentials against SERVER as docker login does (GET /v2/ with basic
auth, or a token from the registry's bearer realm), then stores them where docker
login stores them: $DOCKER_CONFIG/config.json (default ~/.docker/config.json), in
its credsStore or credHelpers helper (docker-credential-*) when one is configured,
else as base64 "user:pass" under "auths" (with Docker's warning). Every registry
command (pull, push, convert, digest, manifest, config, ls, inspect, mutate) then
uses them. Without SERVER, Docker Hub (https://index.docker.io/v1/). Without -u,
the stored credentials are checked again.

Examples:
  echo "$TOKEN" | imgtool login -u ci --password-stdin 127.0.0.1:5000
  imgtool logout 127.0.0.1:5000`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&lf.user, "username", "u", "", "username")
			fs.StringVarP(&lf.pass, "password", "p", "", "password (prefer --password-stdin)")
			fs.BoolVar(&lf.passwordStdin, "password-stdin", false, "take the password from stdin")
			fs.BoolVar(&lf.rf.insecure, "insecure", false, "allow plain http and unverified TLS (localhost and 127.0.0.0/8 use http anyway)")
			fs.StringVar(&lf.rf.certDir, "cert-dir", "", "use the certificates in DIR instead of /etc/docker/certs.d/HOST[:PORT]")
		},
		minArgs: 0, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			server := registry.ServerAddress(strings.Join(args, ""))
			if err := lf.credentials(fs, server); err != nil {
				return err
			}
			if err := registry.CheckLogin(g.ctx, server, lf.user, lf.pass, lf.rf.options(g, true)); err != nil {
				return err
			}
			cf, err := registry.LoadDockerConfig()
			if err != nil {
				return err
			}
			if err := registry.SaveLogin(cf, server, lf.user, lf.pass); err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout, "Login Succeeded")
			return nil
		},
	})
	register(&command{
		name:  "logout",
		usage: "[SERVER]",
		short: "Log out from a registry (removes its credentials, as docker logout)",
		long: `Removes SERVER's credentials from Docker's config.json (or its credential helper),
under every spelling docker logout tries (as given, HOST, http://HOST, https://HOST).
Without SERVER, Docker Hub.

Example:
  imgtool logout 127.0.0.1:5000`,
		minArgs: 0, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			cf, err := registry.LoadDockerConfig()
			if err != nil {
				return err
			}
			server := strings.Join(args, "")
			if server == "" { // docker logout: only no argument means Docker Hub
				server = registry.IndexServer
			}
			host, err := registry.Logout(cf, server)
			fmt.Fprintln(os.Stdout, "Removing login credentials for", host)
			return err
		},
	})
}

// credentials settles user and password as docker login does: flags
// checked the same way, the password from stdin with its line ending cut,
// or the stored credentials when no username is given.
func (lf *loginFlags) credentials(fs *pflag.FlagSet, server string) error {
	switch {
	case lf.passwordStdin && fs.Changed("password"):
		return usageError{"conflicting options: cannot specify both --password and --password-stdin"}
	case lf.passwordStdin && !fs.Changed("username"):
		return usageError{"the --password-stdin option requires --username to be set"}
	case fs.Changed("username") && lf.user == "":
		return usageError{"username is empty"}
	case fs.Changed("password") && lf.pass == "":
		return usageError{"password is empty"}
	}
	if lf.pass != "" {
		fmt.Fprintln(os.Stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if lf.passwordStdin {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		if err != nil {
			return err
		}
		for _, eol := range []string{"\r\n", "\n", "\r"} {
			var ok bool
			if b, ok = bytes.CutSuffix(b, []byte(eol)); ok {
				break
			}
		}
		if strings.TrimSpace(string(b)) == "" {
			return usageError{"password is empty"}
		}
		lf.pass = string(b)
	}
	if lf.user != "" && lf.pass != "" {
		return nil
	}
	cf, err := registry.LoadDockerConfig()
	if err != nil {
		return err
	}
	if ac, err := cf.GetAuthConfig(server); err == nil && ac.Username != "" && ac.Password != "" && (lf.user == "" || lf.user == ac.Username) {
		lf.user, lf.pass = ac.Username, ac.Password
		fmt.Fprintf(os.Stderr, "Authenticating with existing credentials... [Username: %s]\n", ac.Username)
		return nil
	}
	return errors.New("no credentials stored for " + server + ": give them with -u USER --password-stdin (imgtool does not prompt)")
}
