package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// login and logout keep credentials where docker login keeps them: Docker's
// config.json ($DOCKER_CONFIG/config.json, ~/.docker/config.json), through
// the docker CLI's own config package, so the file it writes is the one
// docker login writes, and credsStore/credHelpers go through the same
// docker-credential-* helpers. The pulls and pushes read it back through
// ggcr's authn.DefaultKeychain.

// IndexServer is the key docker login stores Docker Hub's credentials
// under.
const IndexServer = "https://index.docker.io/v1/"

// ServerAddress is the config.json key for what the user typed, as docker
// login keys it: none given or "docker.io" is Docker Hub's IndexServer,
// anything else is kept as typed.
func ServerAddress(arg string) string {
	if arg == "" || arg == "docker.io" {
		return IndexServer
	}
	return arg
}

// CheckLogin checks user and password against the registry as the daemon
// does for docker login: GET /v2/ with basic auth, or a token from the
// registry's bearer realm. Nil means they were accepted.
func CheckLogin(ctx context.Context, server, user, pass string, opts Options) error {
	host := credentials.ConvertToHostname(server)
	if server == IndexServer {
		host = name.DefaultRegistry
	}
	reg, err := name.NewRegistry(host, opts.nameOptions()...)
	if err != nil {
		return fmt.Errorf("login: invalid registry %q: %v", server, err)
	}
	base, err := opts.baseTransport(reg.RegistryStr())
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
	// NewWithContext pings /v2/ (https, then http for insecure and local
	// registries) and, for a bearer challenge, fetches a token with the
	// credentials: wrong ones fail here.
	tr, err := transport.NewWithContext(ctx, reg, auth, base, nil)
	if err != nil {
		return loginError(host, err)
	}
	var lastErr error
	for _, scheme := range schemes(reg) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+reg.RegistryStr()+"/v2/", nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		err = transport.CheckError(resp, http.StatusOK)
		resp.Body.Close()
		if err != nil {
			return loginError(host, err)
		}
		return nil
	}
	return loginError(host, lastErr)
}

// loginError names the registry; refused credentials say so as docker
// login does ("unauthorized: incorrect username or password").
func loginError(host string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
		return &Error{Ref: host, Op: "login", Status: te.StatusCode, Err: err,
			Msg: fmt.Sprintf("login %s: unauthorized: incorrect username or password", host)}
	}
	return describePrefixed("search", host, "login "+host+": ", err)
}

// schemes are the schemes ggcr's ping tries for reg, in its order.
func schemes(reg name.Registry) []string {
	if reg.Scheme() == "http" {
		return []string{"https", "http"}
	}
	return []string{"https"}
}

// LoadDockerConfig reads Docker's config.json from $DOCKER_CONFIG or
// ~/.docker (an absent file is an empty config).
func LoadDockerConfig() (*configfile.ConfigFile, error) {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", cf.Filename, err)
	}
	return cf, nil
}

// SaveLogin stores user and password for server in cf as docker login
// does: in its credsStore or credHelpers helper when one is configured,
// else base64 "user:pass" in auths (with docker's warning on stderr).
func SaveLogin(cf *configfile.ConfigFile, server, user, pass string) error {
	store := cf.GetCredentialsStore(server)
	err := store.Store(types.AuthConfig{Username: user, Password: pass, ServerAddress: server})
	if err != nil {
		return fmt.Errorf("error saving credentials: %v", err)
	}
	return nil
}

// Logout removes server's credentials as docker logout does: under the
// name given, its host name, and http:// and https:// forms of it. It
// returns the host name docker logout prints.
func Logout(cf *configfile.ConfigFile, server string) (hostname string, err error) {
	hostname = server
	regs := []string{server}
	if server != IndexServer {
		hostname = credentials.ConvertToHostname(server)
		regs = append(regs, hostname, "http://"+hostname, "https://"+hostname)
	}
	var errs []error
	for _, r := range regs {
		if e := cf.GetCredentialsStore(r).Erase(r); e != nil {
			errs = append(errs, fmt.Errorf("%s: %v", r, e))
		}
	}
	if len(errs) == len(regs) {
		return hostname, fmt.Errorf("could not erase credentials: %w", errors.Join(errs...))
	}
	return hostname, nil
}

// StaticKeychain answers every registry with the same user and password
// (--creds USER:PASS), as skopeo's --creds and crane's --username do.
func StaticKeychain(creds string) (authn.Keychain, error) {
	user, pass, ok := strings.Cut(creds, ":")
	if !ok || user == "" {
		return nil, errors.New("--creds: want USERNAME:PASSWORD")
	}
	return staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})}, nil
}

type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }
