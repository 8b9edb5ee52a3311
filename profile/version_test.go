package profile

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"2.3.4", "2.3.4", 0},
		{"2.3.4", "2.10.0", -1},
		{"v1.7.30", "1.7.4", 1},
		{"2.0", "2.0.1", -1},
		{"1.6.20~ds1", "1.6.20", 0},
		{"1.6.20~ds1", "1.7.0", -1},
		{"junk", "1.0.0", -1},
		{"1.0.0", "junk", 1},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
