package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
)

// reqHead is a parsed request head: positions into the head's bytes.
type reqHead struct {
	method        []byte
	lineEnd       int // end of the request line (after CRLF)
	host          []byte
	contentLength int64
	close         bool // Connection: close
	head          bool // a HEAD request
	lines         []headerLine
}

// headerLine is a header line of a head, as offsets into it: the line
// [start, end) with its CRLF, the name [start, nameEnd) and the value
// [valueStart, valueEnd) without surrounding blanks; drop marks a line
// that is not passed on.
type headerLine struct {
	start, end           int
	nameEnd              int
	valueStart, valueEnd int
	drop                 bool
}

func (l *headerLine) name(b []byte) []byte  { return b[l.start:l.nameEnd] }
func (l *headerLine) value(b []byte) []byte { return b[l.valueStart:l.valueEnd] }

// scanHeaders appends the header lines of head b from pos up to its empty
// line to lines; false for a malformed line (see headerField) or a line
// not ended by CRLF.
func scanHeaders(b []byte, pos int, lines []headerLine) ([]headerLine, bool) {
	for {
		end, next, ok := cutLine(b, pos)
		if !ok {
			return lines, false
		}
		if end == pos { // the empty line
			return lines, true
		}
		nameEnd, valueStart, valueEnd, ok := headerField(b[pos:end])
		if !ok {
			return lines, false
		}
		lines = append(lines, headerLine{start: pos, end: next, nameEnd: pos + nameEnd, valueStart: pos + valueStart, valueEnd: pos + valueEnd})
		pos = next
	}
}

// parse parses an HTTP/1.1 request head of the kinds the fast path
// forwards; false for anything else (the fallback then answers, with an
// error if the head is malformed).
func (q *reqHead) parse(b []byte) bool {
	*q = reqHead{lines: q.lines[:0]}
	line, rest, ok := cutLine(b, 0)
	if !ok {
		return false
	}
	q.lineEnd = rest
	l := b[:line]
	sp1 := bytes.IndexByte(l, ' ')
	if sp1 <= 0 {
		return false
	}
	sp2 := bytes.IndexByte(l[sp1+1:], ' ')
	if sp2 <= 0 {
		return false
	}
	q.method = l[:sp1]
	target, version := l[sp1+1:sp1+1+sp2], l[sp1+2+sp2:]
	if !isToken(q.method) || string(q.method) == http.MethodConnect || string(version) != "HTTP/1.1" || target[0] != '/' {
		return false
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	q.head = string(q.method) == http.MethodHead
	if q.lines, ok = scanHeaders(b, rest, q.lines); !ok {
		return false
	}
	seenLength, seenHost := false, false
	for i := range q.lines {
		l := &q.lines[i]
		name, value := l.name(b), l.value(b)
		switch {
		case fieldIs(name, "host"):
			if seenHost {
				return false
			}
			seenHost, q.host = true, value
		case fieldIs(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || seenLength {
				return false
			}
			seenLength, q.contentLength = true, n
		case fieldIs(name, "connection"):
			l.drop = true
			if !q.connectionTokens(value) {
				return false
			}
		case fieldIs(name, "transfer-encoding"), fieldIs(name, "upgrade"), fieldIs(name, "expect"), fieldIs(name, "http2-settings"):
			return false
		case fieldIs(name, "keep-alive"), fieldIs(name, "proxy-connection"), fieldIs(name, "te"), fieldIs(name, "trailer"),
			fieldIs(name, "proxy-authorization"), fieldIs(name, "forwarded"), fieldIs(name, "x-forwarded-for"),
			fieldIs(name, "x-forwarded-host"), fieldIs(name, "x-forwarded-proto"):
			l.drop = true
		}
	}
	return seenHost
}

// connectionTokens reads a request's Connection header: close and
// keep-alive are handled; other options go to the fallback.
func (q *reqHead) connectionTokens(v []byte) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte{','})
		tok = bytes.TrimSpace(tok)
		switch {
		case len(tok) == 0, fieldIs(tok, "keep-alive"):
		case fieldIs(tok, "close"):
			q.close = true
		default:
			return false
		}
	}
	return true
}

// idempotent reports whether the request may be sent again.
func (q *reqHead) idempotent() bool {
	switch string(q.method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// writeTo writes the request (head b[:...] and body) as it goes to an
// endpoint: without hop-by-hop and X-Forwarded-* headers of the client,
// with X-Forwarded-For (the client's address), -Host and -Proto.
func (q *reqHead) writeTo(w *bufio.Writer, b []byte, clientIP string) error {
	w.Write(b[:q.lineEnd])
	for _, l := range q.lines {
		if !l.drop {
			w.Write(b[l.start:l.end])
		}
	}
	w.WriteString("X-Forwarded-For: ")
	w.WriteString(clientIP)
	w.WriteString("\r\nX-Forwarded-Host: ")
	w.Write(q.host)
	w.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	headEnd := q.lineEnd
	if len(q.lines) > 0 {
		headEnd = q.lines[len(q.lines)-1].end
	}
	_, err := w.Write(b[headEnd+2:]) // the body
	return err
}

// respHead is a parsed response head: positions into the head's bytes.
type respHead struct {
	code          int
	statusEnd     int // end of the status line (after CRLF)
	body          int // bodyNone, bodyLength, bodyChunked, bodyUntilClose
	contentLength int64
	reusable      bool // the endpoint keeps the connection open
	interim       bool // 1xx
	informational bool // a 1xx was passed on to the client already
	lines         []headerLine
	// connNames are header names listed in Connection (dropped too).
	connNames [][]byte
}

// parse parses a response head to a request (head: to a HEAD request).
func (s *respHead) parse(b []byte, head bool) bool {
	informational := s.informational
	*s = respHead{informational: informational, lines: s.lines[:0], connNames: s.connNames[:0]}
	line, rest, ok := cutLine(b, 0)
	if !ok || line < 12 {
		return false
	}
	var http11 bool
	switch string(b[:8]) {
	case "HTTP/1.1":
		http11 = true
	case "HTTP/1.0":
	default:
		return false
	}
	if b[8] != ' ' {
		return false
	}
	code, err := strconv.Atoi(string(b[9:12]))
	if err != nil || code < 100 || (line > 12 && b[12] != ' ') {
		return false
	}
	s.code, s.statusEnd = code, rest
	s.reusable = http11
	s.interim = code < 200
	var length int64 = -1
	chunked, hasTE := false, false
	if s.lines, ok = scanHeaders(b, rest, s.lines); !ok {
		return false
	}
	for i := range s.lines {
		l := &s.lines[i]
		name, value := l.name(b), l.value(b)
		switch {
		case fieldIs(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || (length >= 0 && n != length) {
				return false
			}
			length = n
		case fieldIs(name, "transfer-encoding"):
			hasTE = true
			last := value
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				last = bytes.TrimSpace(value[i+1:])
			}
			chunked = fieldIs(last, "chunked")
		case fieldIs(name, "connection"):
			l.drop = true
			for v := value; len(v) > 0; {
				var tok []byte
				tok, v, _ = bytes.Cut(v, []byte{','})
				tok = bytes.TrimSpace(tok)
				switch {
				case fieldIs(tok, "close"):
					s.reusable = false
				case fieldIs(tok, "keep-alive"):
					s.reusable = true
				case len(tok) > 0:
					s.connNames = append(s.connNames, tok)
				}
			}
		case fieldIs(name, "keep-alive"), fieldIs(name, "proxy-connection"), fieldIs(name, "te"),
			fieldIs(name, "upgrade"), fieldIs(name, "proxy-authenticate"):
			l.drop = true
		}
	}
	if hasTE || len(s.connNames) > 0 {
		// Transfer-Encoding overrides Content-Length, which is dropped,
		// and so are the headers Connection names.
		for i := range s.lines {
			l := &s.lines[i]
			name := l.name(b)
			if hasTE && fieldIs(name, "content-length") {
				l.drop = true
			}
			for _, c := range s.connNames {
				if bytes.EqualFold(name, c) {
					l.drop = true
				}
			}
		}
	}
	switch {
	case s.interim, head, code == http.StatusNoContent, code == http.StatusNotModified:
		s.body = bodyNone
	case hasTE && chunked:
		s.body = bodyChunked
	case hasTE:
		s.body = bodyUntilClose
	case length >= 0:
		s.body, s.contentLength = bodyLength, length
	default:
		s.body = bodyUntilClose
	}
	return true
}

// cutLine finds the CRLF-terminated line starting at pos: its end (before
// CRLF) and the next line's start. A bare LF is not accepted.
func cutLine(b []byte, pos int) (end, next int, ok bool) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 1 || b[pos+i-1] != '\r' {
		return 0, 0, false
	}
	return pos + i - 1, pos + i + 1, true
}

// headerField splits a header line l (without CRLF) into its name
// l[:nameEnd] and its value l[valueStart:valueEnd] without surrounding
// blanks; false for obsolete line folding, a name that is not a token and
// values with control characters.
func headerField(l []byte) (nameEnd, valueStart, valueEnd int, ok bool) {
	colon := bytes.IndexByte(l, ':')
	if colon <= 0 || !isToken(l[:colon]) {
		return 0, 0, 0, false
	}
	for _, c := range l[colon+1:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return 0, 0, 0, false
		}
	}
	valueStart, valueEnd = colon+1, len(l)
	for valueStart < valueEnd && (l[valueStart] == ' ' || l[valueStart] == '\t') {
		valueStart++
	}
	for valueEnd > valueStart && (l[valueEnd-1] == ' ' || l[valueEnd-1] == '\t') {
		valueEnd--
	}
	return colon, valueStart, valueEnd, true
}

// fieldIs compares a header name or token with a lower-case name,
// ignoring case.
func fieldIs(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isToken reports whether b is an HTTP token (RFC 9110 tchar).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
