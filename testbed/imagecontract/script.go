package imagecontract

import (
	"regexp"
	"slices"
	"strings"
)

// builtins are the shell's own commands and keywords (POSIX sh, busybox ash,
// bash): no program of the image runs for them.
var builtins = []string{
	"!", ".", ":", "[", "[[", "break", "case", "cd", "continue", "do", "done", "echo", "elif", "else", "esac",
	"eval", "exec", "exit", "export", "false", "fi", "for", "if", "in", "local", "printf", "read", "return",
	"set", "shift", "test", "then", "trap", "true", "unset", "until", "wait", "while", "{", "}",
}

// prefixes are words after which the next word is the command.
var prefixes = []string{"!", "do", "elif", "else", "exec", "if", "then", "until", "while", "{"}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\+?=`)

// Programs returns the programs a shell script calls, in order, each once:
// the first word of every simple command, command substitutions included,
// with shell variables the script assigns expanded ($bin/kafka-topics.sh).
// It reads the subset of shell the program writes: no here-documents, no
// functions, no aliases.
func Programs(script string) []string {
	vars := map[string]string{}
	var out []string
	for _, words := range commands(script) {
		for len(words) > 0 {
			w := words[0]
			if assignment.MatchString(w.text) && !w.quoted {
				name, value, _ := strings.Cut(w.text, "=")
				vars[strings.TrimSuffix(name, "+")] = value
				words = words[1:]
				continue
			}
			if slices.Contains(prefixes, w.text) && !w.quoted {
				words = words[1:]
				continue
			}
			break
		}
		if len(words) == 0 {
			continue
		}
		program := expand(words[0].text, vars)
		if slices.Contains(builtins, program) || slices.Contains(out, program) {
			continue
		}
		out = append(out, program)
	}
	return out
}

var variable = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

func expand(word string, vars map[string]string) string {
	return variable.ReplaceAllStringFunc(word, func(v string) string {
		name := variable.FindStringSubmatch(v)[1]
		if value, ok := vars[name]; ok {
			return value
		}
		return v
	})
}

type word struct {
	text   string
	quoted bool
}

// commands splits a script into simple commands, each a list of words with
// their quotes removed: at newlines, ;, &, |, && and ||, and around
// command substitutions $( … ), also inside double quotes. Array
// assignments, name=( … ), stay one word.
func commands(script string) [][]word {
	type frame struct {
		words  []word
		text   string
		inWord bool
		quoted bool
	}
	var (
		out     [][]word
		stack   []frame // the commands a substitution interrupted
		current []word
		buf     strings.Builder
		quoted  bool
		inWord  bool
		quotes  []byte // open quotes, innermost last; 0 opens a substitution
		array   int    // open parentheses of an array assignment
	)
	endWord := func() {
		if inWord {
			current = append(current, word{text: buf.String(), quoted: quoted})
		}
		buf.Reset()
		inWord, quoted = false, false
	}
	endCommand := func() {
		endWord()
		if len(current) > 0 {
			out = append(out, current)
		}
		current = nil
	}
	for i := 0; i < len(script); i++ {
		ch := script[i]
		q := byte(0)
		if len(quotes) > 0 {
			q = quotes[len(quotes)-1]
		}
		switch {
		case q == '\'':
			if ch == '\'' {
				quotes = quotes[:len(quotes)-1]
			} else {
				buf.WriteByte(ch)
			}
		case ch == '\\' && i+1 < len(script):
			i++
			if script[i] != '\n' {
				buf.WriteByte(script[i])
				inWord = true
			}
		case ch == '$' && i+1 < len(script) && script[i+1] == '(' && array == 0:
			// A command substitution: a command of its own, whose output
			// stands in the word around it.
			i++
			buf.WriteString("$(…)")
			stack = append(stack, frame{words: current, text: buf.String(), inWord: true, quoted: quoted})
			current, inWord, quoted = nil, false, false
			buf.Reset()
			quotes = append(quotes, 0)
		case q == '"':
			if ch == '"' {
				quotes = quotes[:len(quotes)-1]
			} else {
				buf.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quotes = append(quotes, ch)
			if !inWord {
				quoted = true // the word begins quoted: never an assignment or keyword
			}
			inWord = true
		case ch == '(' && array == 0 && strings.HasSuffix(buf.String(), "="):
			array++
			buf.WriteByte(ch)
		case array > 0:
			if ch == ')' {
				array--
			}
			buf.WriteByte(ch)
		case ch == ')' && len(stack) > 0:
			endCommand()
			quotes = quotes[:len(quotes)-1]
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			current, inWord, quoted = f.words, f.inWord, f.quoted
			buf.WriteString(f.text)
		case ch == ' ' || ch == '\t':
			endWord()
		case ch == '&' && (strings.HasSuffix(buf.String(), ">") || strings.HasSuffix(buf.String(), "<") || i+1 < len(script) && script[i+1] == '>'):
			// A redirection (>&2, 2>&1, &>file), not a separator.
			buf.WriteByte(ch)
			inWord = true
		case ch == '\n' || ch == ';' || ch == '&' || ch == '|':
			endCommand()
		case ch == '#' && !inWord:
			for i+1 < len(script) && script[i+1] != '\n' {
				i++
			}
		default:
			buf.WriteByte(ch)
			inWord = true
		}
	}
	endCommand()
	return out
}
