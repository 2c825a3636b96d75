package cwlogs

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestCreateLogGroupValidation(t *testing.T) {
	e := newEnv(t)
	tags51 := m{}
	for i := range 51 {
		tags51[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name string
		in   m
		typ  string
	}{
		{"ok", m{"logGroupName": "/aws/containerinsights/c1/application"}, ""},
		{"ok with all", m{"logGroupName": "a.b-c_d/e#f", "kmsKeyId": "arn:aws:kms:us-east-1:123:key/x",
			"logGroupClass": "INFREQUENT_ACCESS", "tags": m{"team": "core", "env": "dev 1"}}, ""},
		{"exists", m{"logGroupName": "/aws/containerinsights/c1/application"}, errResourceExists},
		{"missing name", m{}, errInvalidParameter},
		{"colon", m{"logGroupName": "a:b"}, errInvalidParameter},
		{"space", m{"logGroupName": "a b"}, errInvalidParameter},
		{"unicode", m{"logGroupName": "grüße"}, errInvalidParameter},
		{"too long", m{"logGroupName": strings.Repeat("a", 513)}, errInvalidParameter},
		{"512 ok", m{"logGroupName": strings.Repeat("a", 512)}, ""},
		{"aws/ prefix", m{"logGroupName": "aws/mine"}, errInvalidParameter},
		{"bad class", m{"logGroupName": "c1", "logGroupClass": "COLD"}, errInvalidParameter},
		{"kms too long", m{"logGroupName": "c2", "kmsKeyId": strings.Repeat("k", 257)}, errInvalidParameter},
		{"tag key too long", m{"logGroupName": "c3", "tags": m{strings.Repeat("k", 129): "v"}}, errInvalidParameter},
		{"tag key reserved", m{"logGroupName": "c4", "tags": m{"aws:x": "v"}}, errInvalidParameter},
		{"tag key empty", m{"logGroupName": "c5", "tags": m{"": "v"}}, errInvalidParameter},
		{"tag value bad char", m{"logGroupName": "c6", "tags": m{"k": "a*b"}}, errInvalidParameter},
		{"tag value too long", m{"logGroupName": "c7", "tags": m{"k": strings.Repeat("v", 257)}}, errInvalidParameter},
		{"51 tags", m{"logGroupName": "c8", "tags": tags51}, errInvalidParameter},
		{"empty tags", m{"logGroupName": "c9", "tags": m{}}, errInvalidParameter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("CreateLogGroup", tc.in)
			if tc.typ == "" {
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				return
			}
			wantErr(t, r, http.StatusBadRequest, tc.typ)
		})
	}
	// A validation message names the field and the constraint, AWS-style.
	r := e.call("CreateLogGroup", m{"logGroupName": "a:b"})
	if want := "1 validation error detected: Value 'a:b' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"; r.errMessage() != want {
		t.Errorf("message %q\nwant    %q", r.errMessage(), want)
	}
}

func TestDescribeLogGroups(t *testing.T) {
	e := newEnv(t)
	names := []string{"/app/a", "/app/b", "/app/c", "/db/a", "/db/b"}
	for _, n := range names {
		e.mustOK("CreateLogGroup", m{"logGroupName": n})
	}
	e.mustOK("CreateLogGroup", m{"logGroupName": "/ia", "logGroupClass": "INFREQUENT_ACCESS", "kmsKeyId": "key-1"})
	e.mustOK("PutRetentionPolicy", m{"logGroupName": "/app/b", "retentionInDays": 30})

	// Page through everything two at a time.
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		in := m{"limit": 2}
		if token != "" {
			in["nextToken"] = token
		}
		var out describeLogGroupsOutput
		e.mustOK("DescribeLogGroups", in).decode(t, &out)
		if len(out.LogGroups) > 2 {
			t.Fatalf("page of %d groups with limit 2", len(out.LogGroups))
		}
		for _, g := range out.LogGroups {
			got = append(got, g.LogGroupName)
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	want := []string{"/app/a", "/app/b", "/app/c", "/db/a", "/db/b", "/ia"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged groups %v, want %v", got, want)
	}

	// Fields.
	var out describeLogGroupsOutput
	e.mustOK("DescribeLogGroups", m{"logGroupNamePrefix": "/app/b"}).decode(t, &out)
	if len(out.LogGroups) != 1 {
		t.Fatalf("prefix /app/b: %+v", out.LogGroups)
	}
	g := out.LogGroups[0]
	if g.Arn != "arn:aws:logs:us-east-1:123456789012:log-group:/app/b:*" ||
		g.LogGroupArn != "arn:aws:logs:us-east-1:123456789012:log-group:/app/b" ||
		g.RetentionInDays != 30 || g.MetricFilterCount == nil || *g.MetricFilterCount != 0 ||
		g.StoredBytes == nil || g.LogGroupClass != "STANDARD" || g.CreationTime == 0 {
		t.Errorf("group fields %+v", g)
	}
	e.mustOK("DescribeLogGroups", m{"logGroupNamePrefix": "/ia"}).decode(t, &out)
	if len(out.LogGroups) != 1 || out.LogGroups[0].LogGroupClass != "INFREQUENT_ACCESS" || out.LogGroups[0].KMSKeyID != "key-1" {
		t.Errorf("/ia: %+v", out.LogGroups)
	}

	// Class filter.
	e.mustOK("DescribeLogGroups", m{"logGroupClass": "INFREQUENT_ACCESS", "limit": 1}).decode(t, &out)
	if len(out.LogGroups) != 1 || out.LogGroups[0].LogGroupName != "/ia" || out.NextToken != "" {
		t.Errorf("class filter: %+v", out)
	}

	// Pattern: substring match, and only arn, creationTime, logGroupName.
	r := e.mustOK("DescribeLogGroups", m{"logGroupNamePattern": "b/"})
	r.decode(t, &out)
	if len(out.LogGroups) != 2 || out.LogGroups[0].LogGroupName != "/db/a" || out.LogGroups[1].LogGroupName != "/db/b" {
		t.Errorf("pattern b/: %+v", out.LogGroups)
	}
	// Case-sensitive, as AWS documents.
	e.mustOK("DescribeLogGroups", m{"logGroupNamePattern": "B/"}).decode(t, &out)
	if len(out.LogGroups) != 0 {
		t.Errorf("pattern B/ matched %+v", out.LogGroups)
	}
	if strings.Contains(string(r.body), "storedBytes") {
		t.Errorf("pattern response carries more than arn/creationTime/logGroupName: %s", r.body)
	}

	errs := []m{
		{"logGroupNamePrefix": "/app", "logGroupNamePattern": "app"},
		{"limit": 0},
		{"limit": 51},
		{"logGroupNamePrefix": "a:b"},
		{"logGroupNamePattern": "a*"},
		{"nextToken": "garbage"},
		{"nextToken": "f/00000000000000000170141216578086158698376813536750927874/s"},
		{"nextToken": streamPageToken(false, streamAfter("x"))},
		{"logGroupClass": "COLD"},
	}
	for _, in := range errs {
		wantErr(t, e.call("DescribeLogGroups", in), 400, errInvalidParameter)
	}
}

func TestRetentionPolicy(t *testing.T) {
	e := newEnv(t)
	e.mustOK("CreateLogGroup", m{"logGroupName": "g"})
	for _, d := range retentionDays {
		e.mustOK("PutRetentionPolicy", m{"logGroupName": "g", "retentionInDays": d})
	}
	for _, d := range []int{0, 2, -1, 4000} {
		r := e.call("PutRetentionPolicy", m{"logGroupName": "g", "retentionInDays": d})
		wantErr(t, r, 400, errInvalidParameter)
		if !strings.Contains(r.errMessage(), "enum value set: [1, 3, 5,") {
			t.Errorf("message %q", r.errMessage())
		}
	}
	wantErr(t, e.call("PutRetentionPolicy", m{"logGroupName": "g"}), 400, errInvalidParameter)
	wantErr(t, e.call("PutRetentionPolicy", m{"logGroupName": "nope", "retentionInDays": 1}), 400, errResourceNotFound)

	var out describeLogGroupsOutput
	e.mustOK("PutRetentionPolicy", m{"logGroupName": "g", "retentionInDays": 14})
	e.mustOK("DescribeLogGroups", m{}).decode(t, &out)
	if out.LogGroups[0].RetentionInDays != 14 {
		t.Fatalf("retention %d", out.LogGroups[0].RetentionInDays)
	}
	e.mustOK("DeleteRetentionPolicy", m{"logGroupName": "g"})
	r := e.mustOK("DescribeLogGroups", m{})
	if strings.Contains(string(r.body), "retentionInDays") {
		t.Errorf("retention still reported: %s", r.body)
	}
	wantErr(t, e.call("DeleteRetentionPolicy", m{"logGroupName": "nope"}), 400, errResourceNotFound)
}

func TestTagging(t *testing.T) {
	e := newEnv(t)
	e.mustOK("CreateLogGroup", m{"logGroupName": "/t", "tags": m{"a": "1"}})
	arn := "arn:aws:logs:us-east-1:123456789012:log-group:/t"

	e.mustOK("TagResource", m{"resourceArn": arn, "tags": m{"b": "2"}})
	e.mustOK("TagResource", m{"resourceArn": arn + ":*", "tags": m{"c": "3"}})
	e.mustOK("TagLogGroup", m{"logGroupName": "/t", "tags": m{"d": "4"}})
	var tags tagsOutput
	e.mustOK("ListTagsForResource", m{"resourceArn": arn}).decode(t, &tags)
	if want := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}; !reflect.DeepEqual(tags.Tags, want) {
		t.Fatalf("tags %v, want %v", tags.Tags, want)
	}
	e.mustOK("UntagResource", m{"resourceArn": arn, "tagKeys": []string{"a", "zz"}})
	e.mustOK("UntagLogGroup", m{"logGroupName": "/t", "tags": []string{"b"}})
	e.mustOK("ListTagsLogGroup", m{"logGroupName": "/t"}).decode(t, &tags)
	if want := map[string]string{"c": "3", "d": "4"}; !reflect.DeepEqual(tags.Tags, want) {
		t.Fatalf("tags %v, want %v", tags.Tags, want)
	}

	// At most 50 tags per group.
	many := m{}
	for i := range 48 {
		many[fmt.Sprint("k", i)] = "v"
	}
	e.mustOK("TagResource", m{"resourceArn": arn, "tags": many})
	wantErr(t, e.call("TagResource", m{"resourceArn": arn, "tags": m{"one-too-many": "v"}}), 400, errTooManyTags)
	e.mustOK("TagResource", m{"resourceArn": arn, "tags": m{"c": "replaced"}}) // replacing is fine

	errs := []struct {
		op  string
		in  m
		typ string
	}{
		{"ListTagsForResource", m{"resourceArn": "arn:aws:logs:eu-west-1:123456789012:log-group:/t"}, errResourceNotFound},
		{"ListTagsForResource", m{"resourceArn": "arn:aws:logs:us-east-1:999999999999:log-group:/t"}, errResourceNotFound},
		{"ListTagsForResource", m{"resourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:/missing"}, errResourceNotFound},
		{"ListTagsForResource", m{"resourceArn": "arn:aws:logs:us-east-1:123456789012:destination:d"}, errResourceNotFound},
		{"ListTagsForResource", m{"resourceArn": "not-an-arn"}, errInvalidParameter},
		{"ListTagsForResource", m{}, errInvalidParameter},
		{"ListTagsForResource", m{"resourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:" + strings.Repeat("a", 1000)}, errInvalidParameter},
		{"TagResource", m{"resourceArn": arn}, errInvalidParameter},
		{"TagResource", m{"resourceArn": arn, "tags": m{"aws:reserved": "v"}}, errInvalidParameter},
		{"UntagResource", m{"resourceArn": arn}, errInvalidParameter},
		{"UntagLogGroup", m{"logGroupName": "/t", "tags": []string{}}, errInvalidParameter},
		{"TagLogGroup", m{"logGroupName": "/missing", "tags": m{"a": "b"}}, errResourceNotFound},
		{"ListTagsLogGroup", m{"logGroupName": "/missing"}, errResourceNotFound},
	}
	for _, tc := range errs {
		wantErr(t, e.call(tc.op, tc.in), 400, tc.typ)
	}
}

func TestDeleteLogGroup(t *testing.T) {
	e := newEnv(t)
	e.seed("/del", "s", nowMs())
	e.mustOK("DeleteLogGroup", m{"logGroupName": "/del"})
	wantErr(t, e.call("DeleteLogGroup", m{"logGroupName": "/del"}), 400, errResourceNotFound)
	wantErr(t, e.call("DescribeLogStreams", m{"logGroupName": "/del"}), 400, errResourceNotFound)
	wantErr(t, e.call("DeleteLogGroup", m{"logGroupName": "bad:name"}), 400, errInvalidParameter)
	// Recreated, it is empty.
	e.mustOK("CreateLogGroup", m{"logGroupName": "/del"})
	var out describeLogStreamsOutput
	e.mustOK("DescribeLogStreams", m{"logGroupName": "/del"}).decode(t, &out)
	if len(out.LogStreams) != 0 {
		t.Fatalf("recreated group has streams %+v", out.LogStreams)
	}
}
