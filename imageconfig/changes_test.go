package imageconfig

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func set(keys ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

// Expected results were observed on Docker 20.10.24 (`docker import -c`).
func TestApplyChanges(t *testing.T) {
	sh := func(s string) []string { return []string{"/bin/sh", "-c", s} }
	tests := []struct {
		name    string
		base    *ContainerConfig
		changes []string
		want    ContainerConfig
	}{
		{"env", nil, []string{"ENV A=1"}, ContainerConfig{Env: []string{"A=1"}}},
		{"env same instruction sees old env", nil, []string{"ENV A=1 B=$A"}, ContainerConfig{Env: []string{"A=1", "B="}}},
		{"env expansion forms", nil, []string{"ENV A=1", `ENV B=$A C=${A}x D=${Z:-def} E=${A:+alt} F="q $A" G='s $A'`},
			ContainerConfig{Env: []string{"A=1", "B=1", "C=1x", "D=def", "E=alt", "F=q 1", "G=s $A"}}},
		{"env escapes", nil, []string{`ENV A=$1x B=\$B C=\\ D=a\b E=$ F=${A}$`, `ENV G="a\"b\c\$" H=$$`},
			ContainerConfig{Env: []string{"A=x", "B=$B", `C=\`, "D=ab", "E=$", "F=$", `G=a"b\c$`, "H="}}},
		{"env legacy form", nil, []string{`ENV A 1 2  "3"`}, ContainerConfig{Env: []string{"A=1 2  3"}}},
		{"env legacy form with =", nil, []string{"ENV A B=1"}, ContainerConfig{Env: []string{"A=B=1"}}},
		{"env quoted key", nil, []string{`ENV "A B"=1`}, ContainerConfig{Env: []string{"A B=1"}}},
		{"env replaces in place", &ContainerConfig{Env: []string{"PATH=/bin", "A=0", "Z=9"}}, []string{"ENV A=1 N=2", "ENV PATH=$PATH:/x"},
			ContainerConfig{Env: []string{"PATH=/bin:/x", "A=1", "Z=9", "N=2"}}},
		{"env case sensitive, duplicates", nil, []string{"ENV A=1", "ENV a=2 A=3", "ENV B=1 B=2"}, ContainerConfig{Env: []string{"A=3", "a=2", "B=2"}}},
		{"env unset vs empty", nil, []string{"ENV B=", "ENV A=${B?x} C=${B:-d} D=${B:+p} E=${B:-${Q:-z}}"}, ContainerConfig{Env: []string{"B=", "A=", "C=d", "D=", "E=z"}}},
		{"env continuation across changes", nil, []string{`ENV A=1 \`, "B=2"}, ContainerConfig{Env: []string{"A=1", "B=2"}}},
		{"env trailing continuation", nil, []string{`ENV A=1 \`}, ContainerConfig{Env: []string{"A=1"}}},
		{"multi-line change and comment", nil, []string{"# comment", "ENV A=1\nENV B=2"}, ContainerConfig{Env: []string{"A=1", "B=2"}}},
		{"escape directive", nil, []string{"# escape=`", "ENV A=1 `", "B=x`y"}, ContainerConfig{Env: []string{"A=1", "B=xy"}}},
		{"cmd exec", nil, []string{`CMD ["/bin/sh","-c","echo ok"]`}, ContainerConfig{Cmd: sh("echo ok")}},
		{"cmd shell form, no expansion", nil, []string{"  cmd   echo $HOME  y  "}, ContainerConfig{Cmd: sh("echo $HOME  y")}},
		{"cmd empty shell form", nil, []string{"CMD"}, ContainerConfig{Cmd: []string{"/bin/sh", "-c"}}},
		{"cmd empty json", nil, []string{"CMD []"}, ContainerConfig{Cmd: []string{}}},
		{"cmd invalid json is shell form", nil, []string{`CMD ["a", "b"`}, ContainerConfig{Cmd: sh(`["a", "b"`)}},
		{"cmd uses Shell", &ContainerConfig{Shell: []string{"/bin/bash", "-xc"}}, []string{"CMD echo"},
			ContainerConfig{Cmd: []string{"/bin/bash", "-xc", "echo"}, Shell: []string{"/bin/bash", "-xc"}}},
		{"cmd clears ArgsEscaped", &ContainerConfig{ArgsEscaped: true}, []string{`CMD ["x"]`}, ContainerConfig{Cmd: []string{"x"}}},
		{"entrypoint resets cmd", &ContainerConfig{Cmd: []string{"old"}}, []string{`ENTRYPOINT ["/e"]`}, ContainerConfig{Entrypoint: []string{"/e"}}},
		{"entrypoint keeps cmd set earlier", nil, []string{"CMD echo $HOME", "ENTRYPOINT e"}, ContainerConfig{Cmd: sh("echo $HOME"), Entrypoint: sh("e")}},
		{"entrypoint after empty cmd", nil, []string{"CMD []", "ENTRYPOINT e"}, ContainerConfig{Entrypoint: sh("e")}},
		{"entrypoint after empty shell cmd", nil, []string{"CMD", "ENTRYPOINT e"}, ContainerConfig{Entrypoint: sh("e")}},
		{"entrypoint empty", &ContainerConfig{Entrypoint: []string{"x"}}, []string{"ENTRYPOINT"}, ContainerConfig{}},
		{"entrypoint empty json", &ContainerConfig{Entrypoint: []string{"x"}}, []string{"ENTRYPOINT []"}, ContainerConfig{}},
		{"entrypoint json trailing text", nil, []string{`ENTRYPOINT ["a"] trailing`}, ContainerConfig{Entrypoint: []string{"a"}}},
		{"expose", nil, []string{"EXPOSE 80 443/udp 1000-1002 8080/TCP 127.0.0.1:90:91 :92 080 80/tcp"},
			ContainerConfig{ExposedPorts: set("80/tcp", "443/udp", "1000/tcp", "1001/tcp", "1002/tcp", "8080/tcp", "91/tcp", "92/tcp")}},
		{"expose word splitting", nil, []string{`ENV P="80 81"`, `EXPOSE $P "82"`}, ContainerConfig{Env: []string{"P=80 81"}, ExposedPorts: set("80/tcp", "81/tcp", "82/tcp")}},
		{"expose adds", &ContainerConfig{ExposedPorts: set("1/tcp")}, []string{"EXPOSE 2/sctp"}, ContainerConfig{ExposedPorts: set("1/tcp", "2/sctp")}},
		{"label", nil, []string{`LABEL "a b"="c d" e=f`, "LABEL g h i"}, ContainerConfig{Labels: map[string]string{"a b": "c d", "e": "f", "g": "h i"}}},
		{"label expansion", nil, []string{"ENV X=1", "LABEL a=$X b${X}=c d=$NOPE"}, ContainerConfig{Env: []string{"X=1"}, Labels: map[string]string{"a": "1", "b1": "c", "d": ""}}},
		{"user", nil, []string{"USER a b"}, ContainerConfig{User: "a b"}},
		{"user expansion empty", &ContainerConfig{User: "x"}, []string{"USER $NOPE"}, ContainerConfig{}},
		{"user numeric", nil, []string{"user 1000:1000"}, ContainerConfig{User: "1000:1000"}},
		{"volume", nil, []string{"VOLUME /a /b", `VOLUME ["/c", "/d"]`}, ContainerConfig{Volumes: set("/a", "/b", "/c", "/d")}},
		{"volume expansion", nil, []string{"ENV V=/data", "VOLUME $V"}, ContainerConfig{Env: []string{"V=/data"}, Volumes: set("/data")}},
		{"workdir absolute kept verbatim", nil, []string{"WORKDIR /x/../y/"}, ContainerConfig{WorkingDir: "/x/../y/"}},
		{"workdir relative", nil, []string{"WORKDIR /x", "WORKDIR y"}, ContainerConfig{WorkingDir: "/x/y"}},
		{"workdir relative cleaned", nil, []string{"WORKDIR a", "WORKDIR ../b/"}, ContainerConfig{WorkingDir: "/b"}},
		{"workdir relative to base", &ContainerConfig{WorkingDir: "/srv"}, []string{"WORKDIR app$NOPE"}, ContainerConfig{WorkingDir: "/srv/app"}},
		{"onbuild", nil, []string{"ONBUILD RUN x", "ONBUILD   run   y  ", "onbuild FOO bar"}, ContainerConfig{OnBuild: []string{"RUN x", "run   y  ", "FOO bar"}}},
		{"healthcheck shell", nil, []string{"HEALTHCHECK CMD true"}, ContainerConfig{Healthcheck: &HealthConfig{Test: []string{"CMD-SHELL", "true"}}}},
		{"healthcheck exec with options", nil, []string{`HEALTHCHECK --interval=1s --timeout=2s --start-period=3s --retries=4 CMD ["a","b"]`},
			ContainerConfig{Healthcheck: &HealthConfig{Test: []string{"CMD", "a", "b"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}}},
		{"healthcheck none ignores flags", nil, []string{"HEALTHCHECK --interval=5s NONE"}, ContainerConfig{Healthcheck: &HealthConfig{Test: []string{"NONE"}}}},
		{"healthcheck lower case", nil, []string{"healthcheck none"}, ContainerConfig{Healthcheck: &HealthConfig{Test: []string{"NONE"}}}},
		{"healthcheck replaced", nil, []string{"HEALTHCHECK CMD a", `HEALTHCHECK --retries=3 CMD ["b"]`}, ContainerConfig{Healthcheck: &HealthConfig{Test: []string{"CMD", "b"}, Retries: 3}}},
		{"stopsignal", nil, []string{"STOPSIGNAL SIGKILL"}, ContainerConfig{StopSignal: "SIGKILL"}},
		{"stopsignal number and rt", nil, []string{"STOPSIGNAL 9", "STOPSIGNAL rtmin+3"}, ContainerConfig{StopSignal: "rtmin+3"}},
		{"no changes", &ContainerConfig{User: "u"}, nil, ContainerConfig{User: "u"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.base.Clone()
			if cfg == nil {
				cfg = &ContainerConfig{}
			}
			before := mustJSON(t, tc.base)
			if err := ApplyChanges(cfg, tc.changes); err != nil {
				t.Fatalf("ApplyChanges(%q): %v", tc.changes, err)
			}
			if got, want := mustJSON(t, cfg), mustJSON(t, tc.want); got != want {
				t.Errorf("ApplyChanges(%q)\n got %s\nwant %s", tc.changes, got, want)
			}
			if after := mustJSON(t, tc.base); after != before {
				t.Errorf("base modified: %s", after)
			}
		})
	}
}

// Docker's messages were observed on 20.10.24; ours name the change.
func TestApplyChangesErrors(t *testing.T) {
	tests := []struct {
		changes []string
		want    string
	}{
		{[]string{"RUN x"}, "run is not a valid change command"},
		{[]string{"ENV A=1", "shell [\"x\"]"}, "shell is not a valid change command"},
		{[]string{"FROM scratch"}, "from is not a valid change command"},
		{[]string{"Copy a b"}, "copy is not a valid change command"},
		{[]string{""}, `invalid change "": file with no instructions`},
		{[]string{"ENV"}, `invalid change "ENV": ENV requires at least one argument`},
		{[]string{"ENV A"}, `invalid change "ENV A": ENV must have two arguments`},
		{[]string{"ENV =x"}, `invalid change "ENV =x": ENV names can not be blank`},
		{[]string{"ENV A=1 b"}, `invalid change "ENV A=1 b": Syntax error - can't find = in "b". Must be of the form: name=value`},
		{[]string{"ENV A=${"}, `invalid change "ENV A=${": failed to process "${": syntax error: missing '}'`},
		{[]string{"ENV A=${B"}, `invalid change "ENV A=${B": failed to process "${B": missing ':' in substitution`},
		{[]string{"ENV A=${B-x}"}, `failed to process "${B-x}": missing ':' in substitution`},
		{[]string{"ENV A=${B:-x"}, `failed to process "${B:-x": syntax error: missing '}'`},
		{[]string{`ENV A="x`}, `failed to process "\"x": unexpected end of statement while looking for matching double-quote`},
		{[]string{"ENV A='x"}, `failed to process "'x": unexpected end of statement while looking for matching single-quote`},
		{[]string{"ENV A=${B:?x}"}, `failed to process "${B:?x}": B: x`},
		{[]string{"ENV A=${B?}"}, `failed to process "${B?}": B: is not allowed to be unset`},
		{[]string{"ENV A=${}"}, `failed to process "${}": syntax error: bad substitution`},
		{[]string{"ENV A=${B:x}"}, `failed to process "${B:x}": unsupported modifier (x) in substitution`},
		{[]string{"ENV --x=1 A=2"}, `Unknown flag: x`},
		{[]string{"CMD --foo x"}, `invalid change "CMD --foo x": Unknown flag: foo`},
		{[]string{"LABEL"}, "LABEL requires at least one argument"},
		{[]string{"LABEL a"}, "LABEL must have two arguments"},
		{[]string{"EXPOSE"}, "EXPOSE requires at least one argument"},
		{[]string{"EXPOSE abc"}, "Invalid containerPort: abc"},
		{[]string{"EXPOSE 70000"}, "Invalid containerPort: 70000"},
		{[]string{"EXPOSE 5-3"}, "Invalid containerPort: 5-3"},
		{[]string{"EXPOSE 80/xyz"}, "Invalid proto: xyz"},
		{[]string{"EXPOSE 1.2.3.4:80"}, "Invalid hostPort: 1.2.3.4"},
		{[]string{"EXPOSE 1:2:3:4"}, "Invalid ip address 1:2: address 1:2:: too many colons in address"},
		{[]string{`EXPOSE "8 0"`}, `failed to process "\"8": unexpected end of statement while looking for matching double-quote`},
		{[]string{"USER"}, "USER requires exactly one argument"},
		{[]string{"WORKDIR"}, "WORKDIR requires exactly one argument"},
		{[]string{"WORKDIR $NOPE"}, "cannot normalize nothing"},
		{[]string{"VOLUME []"}, "VOLUME requires at least one argument"},
		{[]string{`VOLUME ["/a", 1]`}, "when using JSON array syntax, arrays must be comprised of strings only"},
		{[]string{`VOLUME ["", "/a"]`}, "VOLUME specified can not be an empty string"},
		{[]string{"VOLUME $NOPE"}, "VOLUME specified can not be an empty string"},
		{[]string{"ONBUILD"}, "ONBUILD requires at least one argument"},
		{[]string{"ONBUILD ONBUILD x"}, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{[]string{"ONBUILD FROM x"}, "FROM isn't allowed as an ONBUILD trigger"},
		{[]string{"ONBUILD ENV A"}, "ENV must have two arguments"},
		{[]string{"HEALTHCHECK"}, "HEALTHCHECK requires at least one argument"},
		{[]string{"healthcheck none x"}, "HEALTHCHECK NONE takes no arguments"},
		{[]string{"HEALTHCHECK CMD"}, "Missing command after HEALTHCHECK CMD"},
		{[]string{"HEALTHCHECK FOO x"}, `Unknown type "FOO" in HEALTHCHECK (try CMD)`},
		{[]string{"HEALTHCHECK --retries=0 CMD x"}, "--retries must be at least 1 (not 0)"},
		{[]string{"HEALTHCHECK --retries=x CMD y"}, `strconv.ParseInt: parsing "x": invalid syntax`},
		{[]string{"HEALTHCHECK --interval=0s CMD x"}, `Interval "interval" cannot be less than 1ms`},
		{[]string{"HEALTHCHECK --timeout=1us CMD x"}, `Interval "timeout" cannot be less than 1ms`},
		{[]string{"HEALTHCHECK --interval=5 CMD y"}, `time: missing unit in duration "5"`},
		{[]string{"HEALTHCHECK --interval CMD x"}, "Missing a value on flag: interval"},
		{[]string{"HEALTHCHECK --foo=1 CMD x"}, "Unknown flag: foo"},
		{[]string{"HEALTHCHECK --retries=1 --retries=2 CMD y"}, "Duplicate flag specified: retries"},
		{[]string{"STOPSIGNAL"}, "STOPSIGNAL requires exactly one argument"},
		{[]string{"STOPSIGNAL SIGNOPE"}, "Invalid signal: SIGNOPE"},
		{[]string{"STOPSIGNAL 0"}, "Invalid signal: 0"},
		// Docker's phases: every line is parsed before keywords are checked.
		{[]string{"RUN x", "ENV A"}, "ENV must have two arguments"},
		{[]string{"ENV", "RUN x"}, "run is not a valid change command"},
	}
	for _, tc := range tests {
		cfg := &ContainerConfig{User: "keep"}
		err := ApplyChanges(cfg, tc.changes)
		if err == nil {
			t.Errorf("ApplyChanges(%q): no error, want %q", tc.changes, tc.want)
			continue
		}
		msg := err.Error()
		if strings.HasSuffix(tc.want, "is not a valid change command") {
			if msg != tc.want {
				t.Errorf("ApplyChanges(%q) = %q, want exactly %q", tc.changes, msg, tc.want)
			}
		} else if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "invalid change ") || strings.Contains(msg, "\n") {
			t.Errorf("ApplyChanges(%q) = %q, want one line `invalid change ...` containing %q", tc.changes, msg, tc.want)
		}
		if cfg.User != "keep" || cfg.Env != nil {
			t.Errorf("ApplyChanges(%q) modified the config on error: %+v", tc.changes, cfg)
		}
	}
}

func TestContainerConfigJSON(t *testing.T) {
	// The zero config, as in every 20.10 container_config of an import.
	const zero = `{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}`
	if got := mustJSON(t, ContainerConfig{}); got != zero {
		t.Fatalf("zero config:\n got %s\nwant %s", got, zero)
	}
	to := 5
	full := &ContainerConfig{Hostname: "h", ExposedPorts: set("80/tcp"), Cmd: []string{"a<b>&"}, Healthcheck: &HealthConfig{Test: []string{"NONE"}, Interval: time.Second},
		ArgsEscaped: true, NetworkDisabled: true, MacAddress: "m", StopSignal: "SIGTERM", StopTimeout: &to, Shell: []string{"sh"}, Labels: map[string]string{"b": "2", "a": "1"}}
	const fullJSON = `{"Hostname":"h","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["a\u003cb\u003e\u0026"],"Healthcheck":{"Test":["NONE"],"Interval":1000000000},"ArgsEscaped":true,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"NetworkDisabled":true,"MacAddress":"m","OnBuild":null,"Labels":{"a":"1","b":"2"},"StopSignal":"SIGTERM","StopTimeout":5,"Shell":["sh"]}`
	if got := mustJSON(t, full); got != fullJSON {
		t.Fatalf("full config:\n got %s\nwant %s", got, fullJSON)
	}
	// Round trip keeps every field, and nil vs empty.
	var back ContainerConfig
	if err := json.Unmarshal([]byte(fullJSON), &back); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, back); got != fullJSON {
		t.Fatalf("round trip:\n got %s\nwant %s", got, fullJSON)
	}
	// Legacy string forms of Cmd/Entrypoint/Shell, and [] vs null.
	var legacy ContainerConfig
	if err := json.Unmarshal([]byte(`{"Cmd":"echo hi","Entrypoint":[],"Shell":null,"Env":[]}`), &legacy); err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, legacy.Cmd) != `["echo hi"]` || legacy.Entrypoint == nil || len(legacy.Entrypoint) != 0 || legacy.Shell != nil || legacy.Env == nil {
		t.Fatalf("legacy decode: %+v", legacy)
	}
	if err := json.Unmarshal([]byte(`{"Cmd":5}`), &legacy); err == nil {
		t.Fatal("Cmd 5 accepted")
	}
	// Clone is deep.
	c := full.Clone()
	c.Labels["a"] = "x"
	c.Healthcheck.Test[0] = "CMD"
	*c.StopTimeout = 7
	c.Cmd[0] = "z"
	if got := mustJSON(t, full); got != fullJSON {
		t.Fatalf("Clone is shallow: %s", got)
	}
}

func TestParseContainerConfig(t *testing.T) {
	c, err := ParseContainerConfig([]byte(`{"architecture":"amd64","config":{"Env":["A=1"],"Cmd":["/bin/sh"],"Labels":{}},"os":"linux"}`))
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, c.Env) != `["A=1"]` || mustJSON(t, c.Cmd) != `["/bin/sh"]` || c.Labels == nil {
		t.Fatalf("got %+v", c)
	}
	for _, in := range []string{`{"config":null}`, `{}`} {
		c, err := ParseContainerConfig([]byte(in))
		if err != nil || c == nil || mustJSON(t, c) != mustJSON(t, ContainerConfig{}) {
			t.Fatalf("%s: %+v, %v", in, c, err)
		}
	}
	if _, err := ParseContainerConfig([]byte(`{"config":`)); err == nil {
		t.Fatal("truncated JSON accepted")
	}
}
