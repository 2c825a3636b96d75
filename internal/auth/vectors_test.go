package auth

import (
	"bufio"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/config"
)

// TestAWSSigV4TestSuite checks requests from AWS's published SigV4 test
// suite (the aws-sig-v4-test-suite, as kept in awslabs/aws-c-auth's
// tests/aws-signing-test-suite/v4/<name>/header-signed-request.txt). The
// signatures were computed by AWS, not by this package or the Go SDK, so
// they pin the canonicalization independently. Requests are parsed by
// net/http as a server would read them.
func TestAWSSigV4TestSuite(t *testing.T) {
	const (
		keyID  = "AKIDEXAMPLE"
		secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
		scope  = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		date   = "X-Amz-Date:20150830T123600Z\n"
	)
	plain := func(line, sig string) string {
		return line + " HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 " + scope +
			"SignedHeaders=host;x-amz-date, Signature=" + sig + "\n" + date + "\n"
	}
	vectors := []struct{ name, raw string }{
		{"get-vanilla", plain("GET /", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
		{"get-vanilla-query-order-key-case", plain("GET /?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
		{"get-vanilla-query-order-encoded", plain("GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac")},
		{"get-vanilla-empty-query-key", plain("GET /?Param1=value1", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")},
		{"get-vanilla-utf8-query", plain("GET /?ሴ=bar", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
		{"get-utf8", plain("GET /ሴ", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
		{"get-unreserved", plain("GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
		// The same request, signed without and with path normalization:
		// both must verify, as AWS accepts both.
		{"get-slashes-unnormalized", plain("GET //example//", "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5")},
		{"get-slashes-normalized", plain("GET //example//", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")},
		{"get-header-value-trim", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\n" +
			"Authorization:AWS4-HMAC-SHA256 " + scope + "SignedHeaders=host;my-header1;my-header2;x-amz-date, " +
			"Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\n" + date + "\n"},
		{"get-vanilla-with-session-token", "GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 " + scope +
			"SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8\n" + date +
			"X-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n"},
		{"post-x-www-form-urlencoded", "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nContent-Length:13\n" +
			"x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nAuthorization:AWS4-HMAC-SHA256 " + scope +
			"SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\n" +
			date + "\nParam1=value1"},
	}
	v := NewVerifier([]config.AccessKey{{ID: keyID, Secret: secret, Role: config.RoleReader}},
		Options{Now: func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) }})
	for _, tt := range vectors {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.raw)))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			id := mustVerify(t, v, r, body)
			if id.AccessKeyID != keyID || id.Role != config.RoleReader || id.Service != "service" {
				t.Fatalf("identity = %+v", id)
			}
			// One changed hex digit of AWS's signature must fail.
			r.Header.Set("Authorization", flipLastHex(r.Header.Get("Authorization")))
			_, err = v.Verify(r, body)
			wantErr(t, err, CodeInvalidSignature, 400, msgSignatureMismatch)
		})
	}
}

// TestSigningKeyKnownAnswer pins the key derivation to the example in AWS's
// SigV4 documentation ("Calculate the signature": secret
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830/us-east-1/iam).
func TestSigningKeyKnownAnswer(t *testing.T) {
	got := signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	const want = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
	if h := hex.EncodeToString(got); h != want {
		t.Fatalf("signing key = %s, want %s", h, want)
	}
}

// flipLastHex changes the last hex digit of s.
func flipLastHex(s string) string {
	if s[len(s)-1] == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}
