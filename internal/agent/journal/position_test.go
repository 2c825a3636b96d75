package journal

import "testing"

func TestCursorPosition(t *testing.T) {
	c := "s=739ad463348b4ceca5a9e69c95a3c93f;i=4ace;b=6ee7e2ef7de9437ba3d5a2f4c6a9a6c1;m=1d4d2c8b1;t=5f4a0a3b3b9e0;x=2b4d"
	src, seq, ok := CursorPosition(c)
	if !ok || seq != 0x4ace || src == 0 {
		t.Fatalf("CursorPosition = %x, %d, %v", src, seq, ok)
	}
	// Another entry of the same sequence: same source.
	src2, seq2, ok := CursorPosition("s=739ad463348b4ceca5a9e69c95a3c93f;i=4acf;b=x;m=1;t=2;x=3")
	if !ok || src2 != src || seq2 != seq+1 {
		t.Fatalf("same sequence: %x, %d, %v", src2, seq2, ok)
	}
	if other, _, _ := CursorPosition("s=0000;i=4ace"); other == src {
		t.Fatal("other seqnum id, same source")
	}
	for _, bad := range []string{"", "s=abc", "i=12", "s=abc;i=zz", "s=abc;i=0", "s=;i=5", "s=abc;i=ffffffffffffffff"} {
		if _, _, ok := CursorPosition(bad); ok {
			t.Errorf("CursorPosition(%q) ok", bad)
		}
	}
}

func FuzzCursorPosition(f *testing.F) {
	f.Add("s=739ad463348b4ceca5a9e69c95a3c93f;i=4ace;b=6ee7;m=1d;t=5f;x=2b")
	f.Add("s=a;i=1")
	f.Add(";;=;i=;s")
	f.Fuzz(func(t *testing.T, c string) {
		src, seq, ok := CursorPosition(c)
		if ok && (src == 0 || seq <= 0) {
			t.Fatalf("CursorPosition(%q) = %x, %d, ok", c, src, seq)
		}
	})
}
