package imageconfig

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Word expansion of the classic builder (20.10): quotes are removed,
// escapes resolved, and $VAR, ${VAR}, ${VAR:-w}, ${VAR:+w}, ${VAR?w} and
// ${VAR:?w} expanded against an environment list ("K=V" entries, first
// match wins).

const eof rune = -1

type lexer struct {
	src []rune
	pos int
	esc rune
	env []string
}

func (l *lexer) peek() rune {
	if l.pos >= len(l.src) {
		return eof
	}
	return l.src[l.pos]
}

func (l *lexer) next() rune {
	if l.pos >= len(l.src) {
		return eof
	}
	r := l.src[l.pos]
	l.pos++
	return r
}

// expandWord expands one word (ENV/LABEL keys and values, USER, WORKDIR,
// VOLUME, STOPSIGNAL).
func expandWord(word string, env []string, esc rune) (string, error) {
	l := &lexer{src: []rune(word), esc: esc, env: env}
	s, _, err := l.processStopOn(eof)
	if err != nil {
		return "", fmt.Errorf("failed to process %q: %w", word, err)
	}
	return s, nil
}

// expandWords expands a word into several, splitting unquoted expansions on
// white space (only EXPOSE does this).
func expandWords(word string, env []string, esc rune) ([]string, error) {
	l := &lexer{src: []rune(word), esc: esc, env: env}
	_, ws, err := l.processStopOn(eof)
	if err != nil {
		return nil, fmt.Errorf("failed to process %q: %w", word, err)
	}
	return ws, nil
}

type wordSplitter struct {
	word   strings.Builder
	words  []string
	inWord bool
}

func (w *wordSplitter) addChar(ch rune) {
	if unicode.IsSpace(ch) {
		if w.inWord && w.word.Len() != 0 {
			w.words = append(w.words, w.word.String())
			w.word.Reset()
			w.inWord = false
		}
		return
	}
	w.addRawChar(ch)
}

func (w *wordSplitter) addRawChar(ch rune) { w.word.WriteRune(ch); w.inWord = true }

func (w *wordSplitter) addString(s string) {
	for _, ch := range s {
		w.addChar(ch)
	}
}

func (w *wordSplitter) addRawString(s string) { w.word.WriteString(s); w.inWord = true }

func (w *wordSplitter) result() []string {
	if w.word.Len() > 0 {
		w.words = append(w.words, w.word.String())
		w.word.Reset()
		w.inWord = false
	}
	return w.words
}

func (l *lexer) processStopOn(stop rune) (string, []string, error) {
	var out strings.Builder
	var words wordSplitter
	for l.peek() != eof {
		ch := l.peek()
		if stop != eof && ch == stop {
			l.next()
			return out.String(), words.result(), nil
		}
		switch ch {
		case '\'', '"', '$':
			var s string
			var err error
			switch ch {
			case '\'':
				s, err = l.processSingleQuote()
			case '"':
				s, err = l.processDoubleQuote()
			default:
				s, err = l.processDollar()
			}
			if err != nil {
				return "", nil, err
			}
			out.WriteString(s)
			if ch == '$' {
				words.addString(s)
			} else {
				words.addRawString(s)
			}
			continue
		}
		ch = l.next()
		if ch == l.esc {
			ch = l.next()
			if ch == eof {
				break // a trailing escape is dropped
			}
			words.addRawChar(ch)
		} else {
			words.addChar(ch)
		}
		out.WriteRune(ch)
	}
	if stop != eof {
		return "", nil, fmt.Errorf("unexpected end of statement while looking for matching %s", string(stop))
	}
	return out.String(), words.result(), nil
}

func (l *lexer) processSingleQuote() (string, error) {
	l.next()
	var out strings.Builder
	for {
		switch ch := l.next(); ch {
		case eof:
			return "", errors.New("unexpected end of statement while looking for matching single-quote")
		case '\'':
			return out.String(), nil
		default:
			out.WriteRune(ch)
		}
	}
}

func (l *lexer) processDoubleQuote() (string, error) {
	l.next()
	var out strings.Builder
	for {
		ch := l.peek()
		switch ch {
		case eof:
			return "", errors.New("unexpected end of statement while looking for matching double-quote")
		case '"':
			l.next()
			return out.String(), nil
		case '$':
			s, err := l.processDollar()
			if err != nil {
				return "", err
			}
			out.WriteString(s)
			continue
		}
		ch = l.next()
		if ch == l.esc {
			switch l.peek() {
			case eof:
				continue
			case '"', '$', l.esc:
				ch = l.next()
			}
		}
		out.WriteRune(ch)
	}
}

func (l *lexer) processDollar() (string, error) {
	l.next() // '$'
	if l.peek() != '{' {
		name := l.processName()
		if name == "" {
			return "$", nil
		}
		v, _ := l.lookup(name)
		return v, nil
	}
	l.next() // '{'
	switch l.peek() {
	case eof:
		return "", errors.New("syntax error: missing '}'")
	case '{', '}', ':':
		return "", errors.New("syntax error: bad substitution")
	}
	name := l.processName()
	switch ch := l.next(); ch {
	case '}':
		v, _ := l.lookup(name)
		return v, nil
	case '?':
		word, err := l.substitutionWord()
		if err != nil {
			return "", err
		}
		v, set := l.lookup(name)
		if !set {
			if word == "" {
				word = "is not allowed to be unset"
			}
			return "", fmt.Errorf("%s: %s", name, word)
		}
		return v, nil
	case ':':
		modifier := l.next()
		word, err := l.substitutionWord()
		if err != nil {
			return "", err
		}
		v, _ := l.lookup(name)
		switch modifier {
		case '+':
			if v != "" {
				v = word
			}
			return v, nil
		case '-':
			if v == "" {
				v = word
			}
			return v, nil
		case '?':
			if v == "" {
				if word == "" {
					word = "is not allowed to be unset"
				}
				return "", fmt.Errorf("%s: %s", name, word)
			}
			return v, nil
		default:
			return "", fmt.Errorf("unsupported modifier (%c) in substitution", modifier)
		}
	}
	return "", errors.New("missing ':' in substitution")
}

func (l *lexer) substitutionWord() (string, error) {
	word, _, err := l.processStopOn('}')
	if err != nil {
		if l.peek() == eof {
			return "", errors.New("syntax error: missing '}'")
		}
		return "", err
	}
	return word, nil
}

func (l *lexer) processName() string {
	var name strings.Builder
	for l.peek() != eof {
		ch := l.peek()
		if name.Len() == 0 && unicode.IsDigit(ch) {
			for l.peek() != eof && unicode.IsDigit(l.peek()) {
				name.WriteRune(l.next())
			}
			return name.String()
		}
		if name.Len() == 0 && isSpecialParam(ch) {
			return string(l.next())
		}
		if !unicode.IsLetter(ch) && !unicode.IsDigit(ch) && ch != '_' {
			break
		}
		name.WriteRune(l.next())
	}
	return name.String()
}

func isSpecialParam(ch rune) bool {
	switch ch {
	case '@', '*', '#', '?', '-', '$', '!', '0':
		return true
	}
	return false
}

// lookup finds name in the env list (first match; an entry without "="
// counts as set and empty).
func (l *lexer) lookup(name string) (string, bool) {
	for _, kv := range l.env {
		k, v, hasEq := strings.Cut(kv, "=")
		if k == name {
			if !hasEq {
				return "", true
			}
			return v, true
		}
	}
	return "", false
}
