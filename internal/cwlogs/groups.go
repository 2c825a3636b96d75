package cwlogs

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/kinsight/kinsight/internal/logstore"
)

const (
	classStandard   = "STANDARD"
	classInfrequent = "INFREQUENT_ACCESS"
)

type createLogGroupInput struct {
	LogGroupName  string            `json:"logGroupName"`
	KMSKeyID      string            `json:"kmsKeyId"`
	Tags          map[string]string `json:"tags"`
	LogGroupClass string            `json:"logGroupClass"`
}

func (h *Handler) createLogGroup(_ context.Context, in *createLogGroupInput) (any, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	if strLen(in.KMSKeyID) > maxKMSKeyIDLen {
		v.add("kmsKeyId", in.KMSKeyID, fmt.Sprintf("Member must have length less than or equal to %d", maxKMSKeyIDLen))
	}
	v.checkTags("tags", in.Tags, false)
	class := in.LogGroupClass
	switch class {
	case "":
		class = classStandard
	case classStandard, classInfrequent:
	default:
		v.add("logGroupClass", class, "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.LogGroupName, "aws/") {
		return nil, invalidParam("Log group names cannot start with aws/.")
	}
	_, err := h.store.CreateGroup(in.LogGroupName, logstore.Group{
		Class:    class,
		KMSKeyID: in.KMSKeyID,
		Tags:     in.Tags,
	})
	return empty{}, err
}

type groupNameInput struct {
	LogGroupName string `json:"logGroupName"`
}

func (in *groupNameInput) validate() error {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	return v.err()
}

func (h *Handler) deleteLogGroup(_ context.Context, in *groupNameInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return empty{}, h.store.DeleteGroup(in.LogGroupName)
}

type describeLogGroupsInput struct {
	LogGroupNamePrefix  string `json:"logGroupNamePrefix"`
	LogGroupNamePattern string `json:"logGroupNamePattern"`
	NextToken           string `json:"nextToken"`
	Limit               *int   `json:"limit"`
	LogGroupClass       string `json:"logGroupClass"`
	// Cross-account search has nothing to search here; accepted and ignored.
	IncludeLinkedAccounts bool     `json:"includeLinkedAccounts"`
	AccountIdentifiers    []string `json:"accountIdentifiers"`
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int32  `json:"retentionInDays,omitempty"`
	MetricFilterCount *int   `json:"metricFilterCount,omitempty"`
	Arn               string `json:"arn"`
	StoredBytes       *int64 `json:"storedBytes,omitempty"`
	KMSKeyID          string `json:"kmsKeyId,omitempty"`
	LogGroupClass     string `json:"logGroupClass,omitempty"`
	LogGroupArn       string `json:"logGroupArn,omitempty"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroupOut `json:"logGroups"`
	NextToken string        `json:"nextToken,omitempty"`
}

func (h *Handler) describeLogGroups(_ context.Context, in *describeLogGroupsInput) (any, error) {
	var v validationErrors
	v.checkGroupName("logGroupNamePrefix", in.LogGroupNamePrefix, false)
	v.checkGroupNamePattern("logGroupNamePattern", in.LogGroupNamePattern)
	v.checkLimit("limit", in.Limit, maxDescribeLimit)
	switch in.LogGroupClass {
	case "", classStandard, classInfrequent:
	default:
		v.add("logGroupClass", in.LogGroupClass, "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalidParam("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	limit := maxDescribeLimit
	if in.Limit != nil {
		limit = *in.Limit
	}
	q := logstore.ListGroupsQuery{Prefix: in.LogGroupNamePrefix, Contains: in.LogGroupNamePattern, Limit: limit}
	if in.NextToken != "" {
		after, err := parseGroupPageToken(in.NextToken)
		if err != nil {
			return nil, invalidParam(msgInvalidNextToken)
		}
		q.After = after
	}
	out := describeLogGroupsOutput{LogGroups: []logGroupOut{}}
	// The class filter is applied here, so a page may take several store
	// pages to fill.
	for {
		groups, more, err := h.store.ListGroups(q)
		if err != nil {
			return nil, err
		}
		for i, g := range groups {
			q.After = g.Name
			if in.LogGroupClass != "" && groupClass(g) != in.LogGroupClass {
				continue
			}
			out.LogGroups = append(out.LogGroups, h.logGroupOut(g, in.LogGroupNamePattern != ""))
			if len(out.LogGroups) == limit {
				if more || i < len(groups)-1 {
					out.NextToken = groupPageToken(q.After)
				}
				return out, nil
			}
		}
		if !more || len(groups) == 0 {
			return out, nil
		}
	}
}

func groupClass(g logstore.Group) string {
	if g.Class == "" {
		return classStandard
	}
	return g.Class
}

// logGroupOut renders a group. With a name pattern AWS returns only arn,
// creationTime and logGroupName; so does this.
func (h *Handler) logGroupOut(g logstore.Group, patternOnly bool) logGroupOut {
	out := logGroupOut{
		LogGroupName: g.Name,
		CreationTime: g.Created,
		Arn:          h.groupARN(g.Name) + ":*",
	}
	if patternOnly {
		return out
	}
	zero, stored := 0, g.StoredBytes
	out.RetentionInDays = g.RetentionDays
	out.MetricFilterCount = &zero
	out.StoredBytes = &stored
	out.KMSKeyID = g.KMSKeyID
	out.LogGroupClass = groupClass(g)
	out.LogGroupArn = h.groupARN(g.Name)
	return out
}

type putRetentionPolicyInput struct {
	LogGroupName    string `json:"logGroupName"`
	RetentionInDays *int32 `json:"retentionInDays"`
}

func (h *Handler) putRetentionPolicy(_ context.Context, in *putRetentionPolicyInput) (any, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	switch {
	case in.RetentionInDays == nil:
		v.add("retentionInDays", nil, "Member must not be null")
	case !validRetention(*in.RetentionInDays):
		v.add("retentionInDays", *in.RetentionInDays, "Member must satisfy enum value set: "+retentionEnum())
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, h.store.PutRetention(in.LogGroupName, *in.RetentionInDays)
}

func (h *Handler) deleteRetentionPolicy(_ context.Context, in *groupNameInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return empty{}, h.store.PutRetention(in.LogGroupName, 0)
}

// Tagging: the resource-ARN API (TagResource …) and the legacy
// group-name API (TagLogGroup …) share one implementation.

type tagResourceInput struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
}

type untagResourceInput struct {
	ResourceArn string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

type resourceInput struct {
	ResourceArn string `json:"resourceArn"`
}

type tagLogGroupInput struct {
	LogGroupName string            `json:"logGroupName"`
	Tags         map[string]string `json:"tags"`
}

type untagLogGroupInput struct {
	LogGroupName string   `json:"logGroupName"`
	Tags         []string `json:"tags"`
}

type tagsOutput struct {
	Tags map[string]string `json:"tags"`
}

// resourceGroup resolves a tagging resourceArn to a group name. Only log
// groups carry tags here; another logs resource type does not exist.
func (h *Handler) resourceGroup(arn string) (string, error) {
	var v validationErrors
	switch n := strLen(arn); {
	case n == 0:
		v.add("resourceArn", nil, "Member must not be null")
	case n > maxARNLen:
		v.add("resourceArn", arn, fmt.Sprintf("Member must have length less than or equal to %d", maxARNLen))
	}
	if err := v.err(); err != nil {
		return "", err
	}
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) == 7 && parts[0] == "arn" && parts[2] == "logs" && parts[5] != "log-group" {
		return "", newError(http.StatusBadRequest, errResourceNotFound, "The specified resource does not exist.")
	}
	return h.groupFromARN(arn)
}

func (h *Handler) tagResource(_ context.Context, in *tagResourceInput) (any, error) {
	name, err := h.resourceGroup(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return empty{}, h.tagGroup(name, in.Tags)
}

func (h *Handler) tagLogGroup(_ context.Context, in *tagLogGroupInput) (any, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, h.tagGroup(in.LogGroupName, in.Tags)
}

// tagGroup adds tags, refusing to take a group past 50 tags as AWS does.
func (h *Handler) tagGroup(name string, tags map[string]string) error {
	var v validationErrors
	v.checkTags("tags", tags, true)
	if err := v.err(); err != nil {
		return err
	}
	g, err := h.store.Group(name)
	if err != nil {
		return err
	}
	merged := maps.Clone(g.Tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	if len(merged) > maxTags {
		return newError(http.StatusBadRequest, errTooManyTags, "A resource can have no more than %d tags.", maxTags)
	}
	return h.store.TagGroup(name, tags)
}

func (h *Handler) untagResource(_ context.Context, in *untagResourceInput) (any, error) {
	name, err := h.resourceGroup(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkTagKeys("tagKeys", in.TagKeys, false)
	if in.TagKeys == nil {
		v.add("tagKeys", nil, "Member must not be null")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, h.store.UntagGroup(name, in.TagKeys)
}

func (h *Handler) untagLogGroup(_ context.Context, in *untagLogGroupInput) (any, error) {
	var v validationErrors
	v.checkGroupName("logGroupName", in.LogGroupName, true)
	v.checkTagKeys("tags", in.Tags, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	return empty{}, h.store.UntagGroup(in.LogGroupName, in.Tags)
}

func (h *Handler) listTagsForResource(_ context.Context, in *resourceInput) (any, error) {
	name, err := h.resourceGroup(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return h.groupTags(name)
}

func (h *Handler) listTagsLogGroup(_ context.Context, in *groupNameInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return h.groupTags(in.LogGroupName)
}

func (h *Handler) groupTags(name string) (any, error) {
	g, err := h.store.Group(name)
	if err != nil {
		return nil, err
	}
	tags := g.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return tagsOutput{Tags: tags}, nil
}
