package lines

import "testing"

func TestLast(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"one", 1, "one"},
		{"one\n", 1, "one"},
		{"one\ntwo\nthree\n", 2, "two\nthree"},
		{"one\ntwo\nthree", 3, "one\ntwo\nthree"},
		{"one\ntwo", 10, "one\ntwo"},
		{"one\r\ntwo\r\n\r\n", 1, "two"},
		{"error: disk full  \n\n", 1, "error: disk full"},
		{"\nlast", 2, "\nlast"},
		{"  indented\n", 1, "  indented"},
		{"one\ntwo", 0, ""},
		{"one\ntwo", -1, ""},
	} {
		if got := Last(tc.s, tc.n); got != tc.want {
			t.Errorf("Last(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
