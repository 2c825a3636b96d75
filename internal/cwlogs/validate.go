package cwlogs

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits from the botocore model of CloudWatch Logs (service-2.json,
// 2014-03-28) and the PutLogEvents documentation.
const (
	maxNameLen        = 512     // LogGroupName, LogStreamName
	maxIdentifierLen  = 2048    // LogGroupIdentifier
	maxARNLen         = 1011    // AmazonResourceName
	maxKMSKeyIDLen    = 256     // KmsKeyId
	maxFilterPattern  = 1024    // FilterPattern
	maxDescribeLimit  = 50      // DescribeLimit
	maxEventsLimit    = 10000   // EventsLimit
	maxBatchEvents    = 10000   // InputLogEvents
	maxStreamNames    = 100     // InputLogStreamNames
	maxBatchBytes     = 1048576 // PutLogEvents: sum(len(message)) + 26 per event
	eventOverhead     = 26      // bytes AWS adds per event when sizing a batch
	maxEventBytes     = 1048576 // one event, message + 26 (AWS raised it from 256 KiB to 1 MB)
	maxBatchSpanMs    = 24 * 60 * 60 * 1000
	maxPageBytes      = 1048576 // GetLogEvents / FilterLogEvents response cap
	maxTags           = 50      // Tags
	maxTagKeyLen      = 128     // TagKey
	maxTagValueLen    = 256     // TagValue
	tooOldMs          = 14 * 24 * 60 * 60 * 1000
	tooNewMs          = 2 * 60 * 60 * 1000
	groupNamePattern  = `[\.\-_/#A-Za-z0-9]+`
	groupNamePatternZ = `[\.\-_/#A-Za-z0-9]*`
	streamNamePattern = `[^:*]*`
	tagKeyPattern     = `^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$`
	tagValuePattern   = `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`
)

// retentionDays are the only values PutRetentionPolicy accepts (the Days shape).
var retentionDays = [...]int32{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// retentionEnum is retentionDays as AWS prints it in its validation message.
func retentionEnum() string {
	parts := make([]string, len(retentionDays))
	for i, d := range retentionDays {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func validRetention(d int32) bool {
	for _, v := range retentionDays {
		if v == d {
			return true
		}
	}
	return false
}

// strLen counts characters the way AWS's (Java) validation does closely
// enough: code points, not bytes.
func strLen(s string) int { return utf8.RuneCountInString(s) }

func isGroupNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '_' || c == '/' || c == '#'
}

// checkGroupName validates a LogGroupName-shaped field. required=false
// allows it to be absent (empty).
func (v *validationErrors) checkGroupName(field, s string, required bool) {
	if s == "" {
		if required {
			v.add(field, nil, "Member must not be null")
		}
		return
	}
	if strLen(s) > maxNameLen {
		v.add(field, s, fmt.Sprintf("Member must have length less than or equal to %d", maxNameLen))
	}
	for i := 0; i < len(s); i++ {
		if !isGroupNameByte(s[i]) {
			v.add(field, s, "Member must satisfy regular expression pattern: "+groupNamePattern)
			return
		}
	}
}

// checkGroupNamePattern validates logGroupNamePattern (may be empty).
func (v *validationErrors) checkGroupNamePattern(field, s string) {
	if strLen(s) > maxNameLen {
		v.add(field, s, fmt.Sprintf("Member must have length less than or equal to %d", maxNameLen))
	}
	for i := 0; i < len(s); i++ {
		if !isGroupNameByte(s[i]) {
			v.add(field, s, "Member must satisfy regular expression pattern: "+groupNamePatternZ)
			return
		}
	}
}

// checkStreamName validates a LogStreamName-shaped field.
func (v *validationErrors) checkStreamName(field, s string, required bool) {
	if s == "" {
		if required {
			v.add(field, nil, "Member must not be null")
		}
		return
	}
	if strLen(s) > maxNameLen {
		v.add(field, s, fmt.Sprintf("Member must have length less than or equal to %d", maxNameLen))
	}
	if strings.ContainsAny(s, ":*") {
		v.add(field, s, "Member must satisfy regular expression pattern: "+streamNamePattern)
	}
}

// checkLimit validates an optional limit against [1, max]; 0 means absent.
func (v *validationErrors) checkLimit(field string, limit *int, max int) {
	if limit == nil {
		return
	}
	if *limit < 1 {
		v.add(field, *limit, "Member must have value greater than or equal to 1")
	} else if *limit > max {
		v.add(field, *limit, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

// checkTime validates a Timestamp (a long with min 0).
func (v *validationErrors) checkTime(field string, t *int64) {
	if t != nil && *t < 0 {
		v.add(field, *t, "Member must have value greater than or equal to 0")
	}
}

func isTagRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) ||
		strings.ContainsRune("_.:/=+-@", r)
}

// checkTagKey validates one TagKey. Keys starting with "aws:" are reserved
// for AWS by its tagging rules, and refused here as there.
func (v *validationErrors) checkTagKey(field, k string) {
	n := strLen(k)
	switch {
	case n < 1:
		v.add(field, k, "Member must have length greater than or equal to 1")
		return
	case n > maxTagKeyLen:
		v.add(field, k, fmt.Sprintf("Member must have length less than or equal to %d", maxTagKeyLen))
	}
	for _, r := range k {
		if !isTagRune(r) {
			v.add(field, k, "Member must satisfy regular expression pattern: "+tagKeyPattern)
			break
		}
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		v.add(field, k, "Member must not begin with the reserved prefix aws:")
	}
}

func (v *validationErrors) checkTagValue(field, val string) {
	if strLen(val) > maxTagValueLen {
		v.add(field, val, fmt.Sprintf("Member must have length less than or equal to %d", maxTagValueLen))
	}
	for _, r := range val {
		if !isTagRune(r) {
			v.add(field, val, "Member must satisfy regular expression pattern: "+tagValuePattern)
			return
		}
	}
}

// checkTags validates a Tags map (1..50 entries when present).
func (v *validationErrors) checkTags(field string, tags map[string]string, required bool) {
	if tags == nil {
		if required {
			v.add(field, nil, "Member must not be null")
		}
		return
	}
	if len(tags) < 1 {
		v.add(field, "{}", "Member must have length greater than or equal to 1")
	}
	if len(tags) > maxTags {
		v.add(field, fmt.Sprintf("map of %d tags", len(tags)), fmt.Sprintf("Member must have length less than or equal to %d", maxTags))
	}
	for k, val := range tags {
		v.checkTagKey(field+".key", k)
		v.checkTagValue(field+"."+k+".value", val)
	}
}

// checkTagKeys validates a list of tag keys (TagKeyList 0..50, or TagList
// min 1 when required).
func (v *validationErrors) checkTagKeys(field string, keys []string, required bool) {
	if keys == nil && required {
		v.add(field, nil, "Member must not be null")
		return
	}
	if required && len(keys) < 1 {
		v.add(field, "[]", "Member must have length greater than or equal to 1")
	}
	if len(keys) > maxTags {
		v.add(field, fmt.Sprintf("list of %d keys", len(keys)), fmt.Sprintf("Member must have length less than or equal to %d", maxTags))
	}
	for i, k := range keys {
		v.checkTagKey(fmt.Sprintf("%s.%d.member", field, i+1), k)
	}
}

// groupRef resolves the logGroupName / logGroupIdentifier pair that read
// operations accept: exactly one, the identifier being a name or this
// server's log group ARN (with or without the trailing ":*").
func (h *Handler) groupRef(name, identifier string) (string, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", name, false)
	if strLen(identifier) > maxIdentifierLen {
		v.add("logGroupIdentifier", identifier, fmt.Sprintf("Member must have length less than or equal to %d", maxIdentifierLen))
	}
	if err := v.err(); err != nil {
		return "", err
	}
	switch {
	case name != "" && identifier != "":
		return "", invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name == "" && identifier == "":
		return "", invalidParam("Either logGroupName or logGroupIdentifier is required.")
	case name != "":
		return name, nil
	}
	if !strings.HasPrefix(identifier, "arn:") {
		var v validationErrors
		v.checkGroupName("logGroupIdentifier", identifier, true)
		return identifier, v.err()
	}
	return h.groupFromARN(identifier)
}

// groupFromARN parses arn:aws:logs:<region>:<account>:log-group:<name>[:*].
// An ARN of another region or account names a group this server cannot
// have: ResourceNotFoundException, as AWS answers for a missing group.
func (h *Handler) groupFromARN(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "logs" || parts[5] != "log-group" {
		return "", invalidParam("Invalid ARN: %s", truncate(arn, 128))
	}
	name := strings.TrimSuffix(parts[6], ":*")
	var v validationErrors
	v.checkGroupName("resourceArn", name, true)
	if err := v.err(); err != nil {
		return "", err
	}
	if parts[3] != h.region || parts[4] != h.accountID {
		return "", newError(http.StatusBadRequest, errResourceNotFound, msgGroupNotFound)
	}
	return name, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func (h *Handler) groupARN(name string) string {
	return "arn:aws:logs:" + h.region + ":" + h.accountID + ":log-group:" + name
}

func (h *Handler) streamARN(group, stream string) string {
	return h.groupARN(group) + ":log-stream:" + stream
}
