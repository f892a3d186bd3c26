package mock

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Output streams.
const (
	streamStdout = 1
	streamStderr = 2
	streamNull   = 0
)

// stmt is one parsed shell statement, its words expanded.
type stmt struct {
	args []string
	// out and err say where the statement's stdout and stderr go
	// (streamStdout, streamStderr or streamNull).
	out, err int
	// busy marks "while :; do ...; done": loop until stopped.
	busy bool
}

// errSyntax reports shell syntax the mock does not understand.
var errSyntax = errors.New("unsupported shell syntax")

// isScript tells whether argv runs a shell script ("sh -c script"), and
// returns the script.
func isScript(argv []string) (string, bool) {
	if len(argv) < 3 || argv[1] != "-c" {
		return "", false
	}
	switch argv[0] {
	case "sh", "/bin/sh", "/usr/bin/sh", "bash", "/bin/bash", "/usr/bin/bash", "ash", "/bin/ash", "dash", "/bin/dash":
		return argv[2], true
	}
	return "", false
}

// parseScript splits a script into statements, expanding $NAME and
// ${NAME} from env. It understands single and double quotes, backslash
// escapes, ";" and newlines, comments, the redirections >&2, 1>&2, 2>&1,
// >/dev/null, 1>/dev/null and 2>/dev/null, and the loop
// "while :; do ...; done" (which loops until the container is stopped).
func parseScript(script string, env map[string]string) ([]stmt, error) {
	raw, err := tokenize(script, env)
	if err != nil {
		return nil, err
	}
	var out []stmt
	for i := 0; i < len(raw); i++ {
		words := raw[i]
		if len(words) == 0 {
			continue
		}
		if words[0] != "while" {
			s, err := redirect(words)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		// while COND; do BODY; done
		if len(words) != 2 || (words[1] != ":" && words[1] != "true") {
			return nil, fmt.Errorf("%w: only \"while :\" loops are supported, not %q", errSyntax, strings.Join(words, " "))
		}
		j := i + 1
		for j < len(raw) && (len(raw[j]) == 0 || raw[j][0] != "done") {
			j++
		}
		if j == len(raw) || i+1 == j || raw[i+1][0] != "do" || len(raw[j]) != 1 {
			return nil, fmt.Errorf("%w: malformed while loop", errSyntax)
		}
		out = append(out, stmt{busy: true})
		i = j
	}
	return out, nil
}

// redirect takes the redirections out of a statement's words.
func redirect(words []string) (stmt, error) {
	s := stmt{out: streamStdout, err: streamStderr}
	for i := 0; i < len(words); i++ {
		w := words[i]
		fd, rest, ok := redirection(w)
		if !ok {
			s.args = append(s.args, w)
			continue
		}
		if rest == "" { // "> /dev/null"
			if i+1 == len(words) {
				return stmt{}, fmt.Errorf("%w: redirection %q without a target", errSyntax, w)
			}
			i++
			rest = words[i]
		}
		var to int
		switch rest {
		case "&1":
			to = s.out
		case "&2":
			to = s.err
		case "/dev/null":
			to = streamNull
		default:
			return stmt{}, fmt.Errorf("%w: redirection to %q", errSyntax, rest)
		}
		if fd == 1 {
			s.out = to
		} else {
			s.err = to
		}
	}
	return s, nil
}

// redirMark starts the words tokenize made of unquoted redirections.
const redirMark = "\x00"

// redirection recognises ">x", "1>x" and "2>x" and returns the fd and x.
func redirection(w string) (fd int, target string, ok bool) {
	w, ok = strings.CutPrefix(w, redirMark)
	if !ok {
		return 0, "", false
	}
	switch {
	case strings.HasPrefix(w, "1>"):
		return 1, w[2:], true
	case strings.HasPrefix(w, "2>"):
		return 2, w[2:], true
	case strings.HasPrefix(w, ">"):
		return 1, w[1:], true
	}
	return 0, "", false
}

// tokenize splits the script into statements of expanded words. A quoted
// redirection character is part of a word; an unquoted one starts one.
func tokenize(script string, env map[string]string) ([][]string, error) {
	var (
		stmts  [][]string
		words  []string
		word   strings.Builder
		inWord bool
	)
	endWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endStmt := func() {
		endWord()
		stmts = append(stmts, words)
		words = nil
	}
	for i := 0; i < len(script); i++ {
		c := script[i]
		switch c {
		case ' ', '\t':
			endWord()
		case ';', '\n':
			endStmt()
		case '#':
			if inWord {
				word.WriteByte(c)
				continue
			}
			for i < len(script) && script[i] != '\n' {
				i++
			}
			endStmt()
		case '\'':
			j := strings.IndexByte(script[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("%w: unterminated single quote", errSyntax)
			}
			word.WriteString(script[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case '"':
			inWord = true
			i++
			for ; i < len(script) && script[i] != '"'; i++ {
				switch script[i] {
				case '\\':
					if i+1 < len(script) && strings.IndexByte("\"\\$`\n", script[i+1]) >= 0 {
						i++
					}
					word.WriteByte(script[i])
				case '$':
					n, v := expand(script[i:], env)
					word.WriteString(v)
					i += n - 1
				case '`':
					return nil, fmt.Errorf("%w: command substitution", errSyntax)
				default:
					word.WriteByte(script[i])
				}
			}
			if i == len(script) {
				return nil, fmt.Errorf("%w: unterminated double quote", errSyntax)
			}
		case '\\':
			if i+1 < len(script) {
				i++
				if script[i] != '\n' {
					word.WriteByte(script[i])
					inWord = true
				}
			}
		case '$':
			n, v := expand(script[i:], env)
			word.WriteString(v)
			inWord = true
			i += n - 1
		case '|', '&', '(', ')', '<', '`':
			// "&" belongs to a redirection like ">&2".
			if c == '&' && inWord && strings.HasPrefix(word.String(), redirMark) && strings.HasSuffix(word.String(), ">") {
				word.WriteByte(c)
				continue
			}
			return nil, fmt.Errorf("%w: %q", errSyntax, c)
		case '>':
			// Redirections are marked with a leading NUL, so that a quoted
			// ">" stays an ordinary word.
			fd := ""
			if inWord && (word.String() == "1" || word.String() == "2") {
				fd = word.String()
				word.Reset()
				inWord = false
			}
			endWord()
			word.WriteString(redirMark + fd + ">")
			inWord = true
			// ">&2", ">/dev/null" continue the word; "> x" ends it.
			if i+1 < len(script) && (script[i+1] == ' ' || script[i+1] == '\t') {
				endWord()
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endStmt()
	return stmts, nil
}

// expand expands the variable reference at the start of s ("$NAME" or
// "${NAME}") and returns how many bytes it took. A lone "$" is itself.
func expand(s string, env map[string]string) (int, string) {
	if len(s) > 1 && s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 1, "$"
		}
		return end + 1, env[s[2:end]]
	}
	n := 1
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 1 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 1 {
		return 1, "$"
	}
	return n, env[s[1:n]]
}

// exitInfo is how a container program ended.
type exitInfo struct {
	code            int
	reason, message string
}

// shell runs parsed statements.
type shell struct {
	env []string
	cwd string
	// write writes text to a stream (streamStdout or streamStderr).
	write func(stream int, text string)
	// block waits for d (forever when d < 0). It returns false when the
	// program must end, with how.
	block func(d time.Duration, ignoreTERM bool) (exitInfo, bool)

	ignoreTERM bool
	status     int
}

// run runs the program and returns how it ended.
func (sh *shell) run(prog []stmt) exitInfo {
	for _, s := range prog {
		if s.busy {
			e, _ := sh.block(-1, sh.ignoreTERM)
			return e
		}
		if len(s.args) == 0 {
			continue
		}
		out := func(text string) { sh.emit(s.out, text) }
		errOut := func(text string) { sh.emit(s.err, text) }
		sh.status = 0
		switch name, args := s.args[0], s.args[1:]; name {
		case ":", "true":
		case "false":
			sh.status = 1
		case "echo":
			nl := "\n"
			if len(args) > 0 && args[0] == "-n" {
				nl, args = "", args[1:]
			}
			out(strings.Join(args, " ") + nl)
		case "printf":
			if len(args) == 0 {
				errOut("printf: usage: printf format [arg ...]\n")
				sh.status = 2
				break
			}
			out(printf(args[0], args[1:]))
		case "pwd":
			out(sh.cwd + "\n")
		case "cd":
			if len(args) > 0 {
				sh.cwd = args[0]
			}
		case "env":
			for _, kv := range sh.env {
				out(kv + "\n")
			}
		case "sleep":
			d, err := parseSleep(args)
			if err != nil {
				errOut("sleep: " + err.Error() + "\n")
				sh.status = 1
				break
			}
			if e, ok := sh.block(d, sh.ignoreTERM); !ok {
				return e
			}
		case "trap":
			if len(args) >= 2 && (args[0] == "" || args[0] == "-") {
				for _, sig := range args[1:] {
					if sig == "TERM" || sig == "SIGTERM" || sig == "15" {
						sh.ignoreTERM = args[0] == ""
					}
				}
			}
		case "exit":
			code := sh.status
			if len(args) > 0 {
				n, err := strconv.Atoi(args[0])
				if err != nil {
					errOut("exit: Illegal number: " + args[0] + "\n")
					n = 2
				}
				code = n & 0xff
			}
			return exitInfo{code: code}
		default:
			errOut("sh: " + name + ": not found\n")
			sh.status = 127
		}
	}
	return exitInfo{code: sh.status}
}

func (sh *shell) emit(stream int, text string) {
	if stream != streamNull && text != "" {
		sh.write(stream, text)
	}
}

// parseSleep reads sleep's operands (seconds, with an optional s, m, h or
// d suffix; several operands add up).
func parseSleep(args []string) (time.Duration, error) {
	if len(args) == 0 {
		return 0, errors.New("missing operand")
	}
	var total time.Duration
	for _, a := range args {
		unit := time.Second
		switch {
		case strings.HasSuffix(a, "s"):
			a = a[:len(a)-1]
		case strings.HasSuffix(a, "m"):
			a, unit = a[:len(a)-1], time.Minute
		case strings.HasSuffix(a, "h"):
			a, unit = a[:len(a)-1], time.Hour
		case strings.HasSuffix(a, "d"):
			a, unit = a[:len(a)-1], 24*time.Hour
		}
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("invalid time interval %q", a)
		}
		total += time.Duration(f * float64(unit))
	}
	return total, nil
}

// printf formats like the shell's printf with %s, %d, %% and the escapes
// \n, \t and \\; the format is reused while arguments remain.
func printf(format string, args []string) string {
	var b strings.Builder
	for {
		used := false
		for i := 0; i < len(format); i++ {
			c := format[i]
			switch {
			case c == '\\' && i+1 < len(format):
				i++
				switch format[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case '\\':
					b.WriteByte('\\')
				default:
					b.WriteByte('\\')
					b.WriteByte(format[i])
				}
			case c == '%' && i+1 < len(format):
				i++
				switch format[i] {
				case '%':
					b.WriteByte('%')
				case 's', 'd':
					v := ""
					if len(args) > 0 {
						v, args, used = args[0], args[1:], true
					}
					if v == "" && format[i] == 'd' {
						v = "0"
					}
					b.WriteString(v)
				default:
					b.WriteByte('%')
					b.WriteByte(format[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		if !used || len(args) == 0 {
			return b.String()
		}
	}
}
