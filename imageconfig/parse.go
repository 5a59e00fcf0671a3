package imageconfig

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A change list is parsed the way Docker does it: the changes are joined
// with "\n" and read as one Dockerfile (comments, an escape parser
// directive and line continuations work across changes).

var errNotStringArray = errors.New("when using JSON array syntax, arrays must be comprised of strings only")

// node is one parsed instruction line.
type node struct {
	cmd      string   // lower case keyword
	original string   // the logical line, left-trimmed, continuations joined
	flags    []string // leading --flags
	args     []string // arguments, as the node parser split them
	json     bool     // args came from a JSON array
	sub      *node    // ONBUILD's trigger instruction
}

var escapeDirective = regexp.MustCompile(`^#[ \t]*escape[ \t]*=[ \t]*(.).*$`)

// parseLines splits the joined change text into logical instruction lines.
// It returns the escape token in effect.
func parseLines(text string) ([]string, rune, error) {
	esc := '\\'
	directivesDone, escapeSeen := false, false
	directive := func(line string) error {
		if directivesDone {
			return nil
		}
		if m := escapeDirective.FindStringSubmatch(strings.ToLower(line)); m != nil {
			if escapeSeen {
				return errors.New("only one escape parser directive can be used")
			}
			escapeSeen = true
			if m[1] != "`" && m[1] != `\` {
				return fmt.Errorf("invalid ESCAPE '%s'. Must be ` or \\", m[1])
			}
			esc = rune(m[1][0])
			return nil
		}
		directivesDone = true
		return nil
	}
	isComment := func(s string) bool {
		return strings.HasPrefix(strings.TrimLeftFunc(s, unicode.IsSpace), "#")
	}
	// trimCont removes a trailing escape token (plus blanks after it) and
	// reports whether the line ends there.
	trimCont := func(s string) (string, bool) {
		t := strings.TrimRight(s, " \t")
		if strings.HasSuffix(t, string(esc)) {
			return strings.TrimSuffix(t, string(esc)), false
		}
		return s, true
	}

	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		raw := sc.Text()
		if len(lines) == 0 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		tok := strings.TrimLeftFunc(raw, unicode.IsSpace)
		if err := directive(tok); err != nil {
			return nil, esc, err
		}
		if isComment(tok) {
			tok = ""
		}
		line, end := trimCont(tok)
		if end && line == "" {
			continue
		}
		for !end && sc.Scan() {
			cont := sc.Text()
			if err := directive(cont); err != nil {
				return nil, esc, err
			}
			if isComment(cont) || strings.TrimLeftFunc(cont, unicode.IsSpace) == "" {
				continue
			}
			var c string
			c, end = trimCont(cont)
			line += c
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, esc, err
	}
	if len(lines) == 0 {
		return nil, esc, errors.New("file with no instructions")
	}
	return lines, esc, nil
}

var whitespaceRun = regexp.MustCompile(`[\t\v\f\r ]+`)

// parseNode parses one logical line into its keyword, flags and arguments.
// Keywords we do not handle are returned with no arguments.
func parseNode(line string, esc rune) (*node, error) {
	parts := whitespaceRun.Split(strings.TrimSpace(line), 2)
	n := &node{cmd: strings.ToLower(parts[0]), original: line}
	var rest string
	if len(parts) == 2 {
		var err error
		rest, n.flags, err = extractFlags(parts[1])
		if err != nil {
			return nil, err
		}
		rest = strings.TrimSpace(rest)
	}
	var err error
	switch n.cmd {
	case "env", "label":
		n.args, err = parseNameVal(rest, strings.ToUpper(n.cmd), esc)
	case "cmd", "entrypoint":
		n.args, n.json, err = parseMaybeJSON(rest)
	case "volume":
		n.args, n.json, err = parseJSONOrWords(rest)
	case "expose":
		if rest != "" {
			n.args = whitespaceRun.Split(rest, -1)
		}
	case "user", "workdir", "stopsignal":
		if rest != "" {
			n.args = []string{rest}
		}
	case "healthcheck":
		n.args, n.json, err = parseHealthArgs(rest)
	case "onbuild":
		if rest != "" {
			n.sub, err = parseNode(rest, esc)
			if n.sub != nil {
				n.args = []string{n.sub.cmd, n.sub.original}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// extractFlags takes the leading "--name[=value]" words off an argument
// string; "--" alone ends them.
func extractFlags(line string) (string, []string, error) {
	var flags []string
	i := 0
	for {
		for i < len(line) && unicode.IsSpace(rune(line[i])) {
			i++
		}
		if i >= len(line) {
			return "", flags, nil
		}
		if !strings.HasPrefix(line[i:], "--") {
			return line[i:], flags, nil
		}
		var word strings.Builder
		var quote byte
		blankOK := false
		for ; i < len(line); i++ {
			ch := line[i]
			if quote == 0 {
				if unicode.IsSpace(rune(ch)) {
					break
				}
				if ch == '\'' || ch == '"' {
					quote, blankOK = ch, true
					continue
				}
			} else if ch == quote {
				quote = 0
				continue
			}
			if ch == '\\' {
				if i+1 == len(line) {
					continue
				}
				i++
				ch = line[i]
			}
			word.WriteByte(ch)
		}
		w := word.String()
		if w == "--" {
			return line[i:], flags, nil
		}
		if blankOK || w != "" {
			flags = append(flags, w)
		}
	}
}

// parseWords splits on unquoted white space, keeping quotes and escapes in
// the words (they are resolved later by expansion).
func parseWords(rest string, esc rune) []string {
	const (
		inSpaces = iota
		inWord
		inQuote
	)
	var words []string
	phase := inSpaces
	var word strings.Builder
	var quote rune
	blankOK := false
	flush := func() {
		if blankOK || word.Len() > 0 {
			words = append(words, word.String())
		}
		word.Reset()
		blankOK = false
	}
	for pos := 0; pos < len(rest); {
		ch, w := utf8.DecodeRuneInString(rest[pos:])
		pos += w
		if phase == inSpaces {
			if unicode.IsSpace(ch) {
				continue
			}
			phase = inWord
		}
		switch phase {
		case inWord:
			if unicode.IsSpace(ch) {
				phase = inSpaces
				flush()
				continue
			}
			if ch == '\'' || ch == '"' {
				quote, blankOK, phase = ch, true, inQuote
			}
			if ch == esc {
				if pos == len(rest) {
					continue
				}
				word.WriteRune(ch)
				ch, w = utf8.DecodeRuneInString(rest[pos:])
				pos += w
			}
			word.WriteRune(ch)
		case inQuote:
			if ch == quote {
				phase = inWord
			}
			if ch == esc && quote != '\'' {
				if pos == len(rest) {
					phase = inWord
					continue
				}
				word.WriteRune(ch)
				ch, w = utf8.DecodeRuneInString(rest[pos:])
				pos += w
			}
			word.WriteRune(ch)
		}
	}
	if phase != inSpaces {
		flush()
	}
	return words
}

// parseNameVal parses ENV/LABEL arguments into key, value pairs: either the
// legacy "KEY value with spaces" form or "k=v k2=v2".
func parseNameVal(rest, key string, esc rune) ([]string, error) {
	words := parseWords(rest, esc)
	if len(words) == 0 {
		return nil, nil
	}
	if !strings.Contains(words[0], "=") {
		parts := whitespaceRun.Split(rest, 2)
		if len(parts) < 2 {
			return nil, fmt.Errorf("%s must have two arguments", key)
		}
		return []string{parts[0], parts[1]}, nil
	}
	var args []string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			//lint:ignore ST1005 Docker's own error text (dockerfile parser), kept verbatim
			return nil, fmt.Errorf("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		args = append(args, k, v)
	}
	return args, nil
}

// parseJSON parses a JSON array of strings; trailing text after the array is
// ignored, as in Docker.
func parseJSON(rest string) ([]string, error) {
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	if !strings.HasPrefix(rest, "[") {
		//lint:ignore ST1005 Docker's own error text (dockerfile parser), kept verbatim
		return nil, fmt.Errorf("Error parsing %q as a JSON array", rest)
	}
	var arr []any
	if err := json.NewDecoder(strings.NewReader(rest)).Decode(&arr); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		s, ok := v.(string)
		if !ok {
			return nil, errNotStringArray
		}
		out = append(out, s)
	}
	return out, nil
}

func parseMaybeJSON(rest string) ([]string, bool, error) {
	if rest == "" {
		return nil, false, nil
	}
	args, err := parseJSON(rest)
	if err == nil {
		return args, true, nil
	}
	if err == errNotStringArray {
		return nil, false, err
	}
	return []string{rest}, false, nil
}

func parseJSONOrWords(rest string) ([]string, bool, error) {
	args, err := parseJSON(rest)
	if err == nil {
		return args, true, nil
	}
	if err == errNotStringArray {
		return nil, false, err
	}
	if rest == "" {
		return nil, false, nil
	}
	return whitespaceRun.Split(rest, -1), false, nil
}

// parseHealthArgs: the first word is the type (CMD/NONE), the rest a
// command in shell or JSON form.
func parseHealthArgs(rest string) ([]string, bool, error) {
	sep := strings.IndexFunc(rest, unicode.IsSpace)
	if sep == 0 || rest == "" {
		return nil, false, nil
	}
	if sep < 0 {
		sep = len(rest)
	}
	typ := rest[:sep]
	cmd, isJSON, err := parseMaybeJSON(strings.TrimLeftFunc(rest[sep:], unicode.IsSpace))
	if err != nil {
		return nil, false, err
	}
	return append([]string{typ}, cmd...), isJSON, nil
}
