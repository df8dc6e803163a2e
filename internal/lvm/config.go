package lvm

import (
	"fmt"
	"strconv"
	"strings"
)

// The text metadata is in lvm2's configuration syntax:
//
//	name = value              value: "string", 123, 1.5 or [v, v, ...]
//	name { statements }       a section
//	# comment to the end of the line
//
// Strings escape '"' and '\' with a backslash.

// maxConfigDepth bounds section nesting; lvm2's metadata nests four deep
// (group, logical_volumes, LV, segment).
const maxConfigDepth = 16

// section is a parsed section: its statements in file order.
type section struct {
	items []item
}

// item is one statement: a value or a subsection.
type item struct {
	name string
	val  *value
	sub  *section
}

// value is a string, a number (integer or, kept as text, a float), or a
// list of those.
type value struct {
	str     string
	num     int64
	isNum   bool
	isFloat bool
	list    []value
	isList  bool
}

// parseConfig parses metadata text. Duplicate names within a section are
// an error: lvm2 never writes them, and which one counts is ambiguous.
func parseConfig(text []byte) (*section, error) {
	p := &parser{text: text, line: 1}
	sec, err := p.section(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.text) {
		return nil, p.errorf("unexpected %q", p.text[p.pos])
	}
	return sec, nil
}

type parser struct {
	text []byte
	pos  int
	line int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("metadata line %d: %s", p.line, fmt.Sprintf(format, args...))
}

// skipSpace skips whitespace and comments, counting lines.
func (p *parser) skipSpace() {
	for p.pos < len(p.text) {
		switch p.text[p.pos] {
		case '\n':
			p.line++
			p.pos++
		case ' ', '\t', '\r', '\f', '\v':
			p.pos++
		case '#':
			for p.pos < len(p.text) && p.text[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isSpecial(c byte) bool {
	return strings.IndexByte(" \t\r\n\f\v#={}[],\"'", c) >= 0
}

// word reads a run of ordinary characters: a name or a number.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.text) && !isSpecial(p.text[p.pos]) {
		p.pos++
	}
	return string(p.text[start:p.pos])
}

// section parses statements until a closing brace (depth > 0) or the end.
func (p *parser) section(depth int) (*section, error) {
	if depth > maxConfigDepth {
		return nil, p.errorf("sections nested more than %d deep", maxConfigDepth)
	}
	sec := &section{}
	seen := map[string]bool{}
	for {
		p.skipSpace()
		if p.pos >= len(p.text) {
			if depth > 0 {
				return nil, p.errorf("section not closed at the end of the text")
			}
			return sec, nil
		}
		if p.text[p.pos] == '}' {
			if depth == 0 {
				return nil, p.errorf("unexpected '}'")
			}
			p.pos++
			return sec, nil
		}
		name := p.word()
		if name == "" {
			return nil, p.errorf("expected a name, found %q", p.text[p.pos])
		}
		if seen[name] {
			return nil, p.errorf("%q appears twice in one section", name)
		}
		seen[name] = true
		p.skipSpace()
		if p.pos >= len(p.text) {
			return nil, p.errorf("%q has no value", name)
		}
		switch p.text[p.pos] {
		case '{':
			p.pos++
			sub, err := p.section(depth + 1)
			if err != nil {
				return nil, err
			}
			sec.items = append(sec.items, item{name: name, sub: sub})
		case '=':
			p.pos++
			v, err := p.value(true)
			if err != nil {
				return nil, err
			}
			sec.items = append(sec.items, item{name: name, val: &v})
		default:
			return nil, p.errorf("expected '=' or '{' after %q", name)
		}
	}
}

// value parses a string, a number or (when allowed: lists do not nest) a
// list.
func (p *parser) value(listOK bool) (value, error) {
	p.skipSpace()
	if p.pos >= len(p.text) {
		return value{}, p.errorf("value missing at the end of the text")
	}
	switch c := p.text[p.pos]; c {
	case '"', '\'':
		s, err := p.quoted(c)
		return value{str: s}, err
	case '[':
		if !listOK {
			return value{}, p.errorf("lists do not nest")
		}
		p.pos++
		return p.list()
	}
	w := p.word()
	if n, err := strconv.ParseInt(w, 10, 64); err == nil {
		return value{num: n, isNum: true}, nil
	}
	if _, err := strconv.ParseFloat(w, 64); err == nil && w != "" && strings.ContainsAny(w, "0123456789") {
		return value{str: w, isFloat: true}, nil
	}
	if w == "" {
		return value{}, p.errorf("expected a value, found %q", p.text[p.pos])
	}
	return value{}, p.errorf("%q is not a value (strings are quoted)", w)
}

// list parses the items of a list after its '['.
func (p *parser) list() (value, error) {
	v := value{isList: true}
	for {
		p.skipSpace()
		if p.pos < len(p.text) && p.text[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		if len(v.list) > 0 {
			if p.pos >= len(p.text) || p.text[p.pos] != ',' {
				return value{}, p.errorf("expected ',' or ']' in a list")
			}
			p.pos++
		}
		el, err := p.value(false)
		if err != nil {
			return value{}, err
		}
		v.list = append(v.list, el)
	}
}

// quoted parses a string in the given quotes; a backslash takes the next
// character literally.
func (p *parser) quoted(q byte) (string, error) {
	p.pos++
	var b strings.Builder
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		p.pos++
		switch c {
		case q:
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.text) {
				return "", p.errorf("string not closed")
			}
			c = p.text[p.pos]
			p.pos++
		case '\n':
			p.line++
		}
		b.WriteByte(c)
	}
	return "", p.errorf("string not closed")
}

// get returns the item of that name, or nil.
func (s *section) get(name string) *item {
	for i := range s.items {
		if s.items[i].name == name {
			return &s.items[i]
		}
	}
	return nil
}

// subsection returns the named subsection, or nil.
func (s *section) subsection(name string) *section {
	if it := s.get(name); it != nil {
		return it.sub
	}
	return nil
}

// str returns a string setting; where says where, for the error.
func (s *section) str(name, where string) (string, error) {
	it := s.get(name)
	if it == nil || it.val == nil || it.val.isNum || it.val.isList || it.val.isFloat {
		return "", fmt.Errorf("%s: %q is missing or not a string", where, name)
	}
	return it.val.str, nil
}

// int returns a non-negative integer setting.
func (s *section) int(name, where string) (int64, error) {
	it := s.get(name)
	if it == nil || it.val == nil || !it.val.isNum {
		return 0, fmt.Errorf("%s: %q is missing or not a number", where, name)
	}
	if it.val.num < 0 {
		return 0, fmt.Errorf("%s: %q is negative (%d)", where, name, it.val.num)
	}
	return it.val.num, nil
}

// strings returns a list of strings (status and flags lists); a missing
// setting is an empty list.
func (s *section) strings(name, where string) ([]string, error) {
	it := s.get(name)
	if it == nil {
		return nil, nil
	}
	if it.val == nil || !it.val.isList {
		return nil, fmt.Errorf("%s: %q is not a list", where, name)
	}
	out := make([]string, 0, len(it.val.list))
	for _, v := range it.val.list {
		if v.isNum || v.isFloat {
			return nil, fmt.Errorf("%s: %q holds a number, want strings", where, name)
		}
		out = append(out, v.str)
	}
	return out, nil
}
