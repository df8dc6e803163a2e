// Package lines cuts command output down to what an error message or a
// failing test should show: its last lines, where tools print what went
// wrong.
package lines

import "strings"

// Last returns the last n lines of s, joined by "\n", without the
// whitespace s ends with (a final newline, blank lines, a pty's "\r"); ""
// when n < 1.
func Last(s string, n int) string {
	if n < 1 {
		return ""
	}
	s = strings.TrimRight(s, " \t\r\n")
	start := len(s)
	for ; n > 0; n-- {
		start = strings.LastIndexByte(s[:start], '\n')
		if start < 0 {
			return s
		}
	}
	return s[start+1:]
}
