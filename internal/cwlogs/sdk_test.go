package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/kinsight/kinsight/internal/config"
)

// TestAWSSDKClient drives the handler with the real AWS SDK for Go v2
// client: if its serializers, signer, paginators and error deserializers
// are happy, the wire format is right.
func TestAWSSDKClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.sdkClient(config.RoleAdmin)
	agent := e.sdkClient(config.RoleAgent)
	reader := e.sdkClient(config.RoleReader)
	group := "/aws/containerinsights/demo/application"

	if _, err := agent.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{
		LogGroupName: aws.String(group), Tags: map[string]string{"cluster": "demo"},
	}); err != nil {
		t.Fatalf("CreateLogGroup: %v", err)
	}
	_, err := agent.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second CreateLogGroup: %v, want ResourceAlreadyExistsException", err)
	}
	for i := range 3 {
		if _, err := agent.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(fmt.Sprintf("pod-%d", i)),
		}); err != nil {
			t.Fatalf("CreateLogStream: %v", err)
		}
	}
	now := nowMs()
	for i := range 3 {
		var events []types.InputLogEvent
		for j := range 40 {
			events = append(events, types.InputLogEvent{
				Timestamp: aws.Int64(now - 1000 + int64(j*3+i)),
				Message:   aws.String(fmt.Sprintf("pod-%d line %d level=%s", i, j, map[bool]string{true: "ERROR", false: "INFO"}[j%10 == 0])),
			})
		}
		out, err := agent.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(fmt.Sprintf("pod-%d", i)), LogEvents: events,
		})
		if err != nil {
			t.Fatalf("PutLogEvents: %v", err)
		}
		if out.NextSequenceToken == nil || out.RejectedLogEventsInfo != nil {
			t.Fatalf("PutLogEvents output %+v", out)
		}
	}
	_, err = agent.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String("pod-0"),
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(now), Message: aws.String("b")}, {Timestamp: aws.Int64(now - 1), Message: aws.String("a")}},
	})
	var invalid *types.InvalidParameterException
	if !errors.As(err, &invalid) || invalid.ErrorMessage() != msgUnorderedEvents {
		t.Fatalf("unordered PutLogEvents: %v", err)
	}

	// DescribeLogGroups / DescribeLogStreams with the SDK paginators.
	for _, n := range []string{"/a", "/b", "/c"} {
		if _, err := admin.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	var groups []string
	gp := cloudwatchlogs.NewDescribeLogGroupsPaginator(reader, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(1)})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeLogGroups: %v", err)
		}
		for _, g := range page.LogGroups {
			groups = append(groups, aws.ToString(g.LogGroupName))
			if aws.ToString(g.LogGroupName) == group && aws.ToString(g.Arn) != e.h.groupARN(group)+":*" {
				t.Errorf("arn %q", aws.ToString(g.Arn))
			}
		}
	}
	if fmt.Sprint(groups) != fmt.Sprint([]string{"/a", group, "/b", "/c"}) {
		t.Fatalf("groups %v", groups)
	}
	var streams []string
	sp := cloudwatchlogs.NewDescribeLogStreamsPaginator(agent, &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupName: aws.String(group), OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(2),
	})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeLogStreams: %v", err)
		}
		for _, s := range page.LogStreams {
			streams = append(streams, aws.ToString(s.LogStreamName))
		}
	}
	if fmt.Sprint(streams) != "[pod-2 pod-1 pod-0]" {
		t.Fatalf("streams by last event %v", streams)
	}

	// GetLogEvents forward with the SDK paginator, which stops when the
	// token repeats.
	gep := cloudwatchlogs.NewGetLogEventsPaginator(reader, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String("pod-1"), StartFromHead: aws.Bool(true), Limit: aws.Int32(15),
	}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	n := 0
	for pages := 0; gep.HasMorePages(); pages++ {
		if pages > 10 {
			t.Fatal("GetLogEvents paginator does not stop")
		}
		page, err := gep.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		for _, x := range page.Events {
			if want := fmt.Sprintf("pod-1 line %d ", n); len(aws.ToString(x.Message)) < len(want) || aws.ToString(x.Message)[:len(want)] != want {
				t.Fatalf("event %d: %q", n, aws.ToString(x.Message))
			}
			n++
		}
	}
	if n != 40 {
		t.Fatalf("GetLogEvents paged %d events, want 40", n)
	}

	// FilterLogEvents with a pattern, paginated.
	fp := cloudwatchlogs.NewFilterLogEventsPaginator(reader, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupIdentifier: aws.String(e.h.groupARN(group)), FilterPattern: aws.String("ERROR"), Limit: aws.Int32(5),
	})
	matched, last := 0, int64(0)
	for fp.HasMorePages() {
		page, err := fp.NextPage(ctx)
		if err != nil {
			t.Fatalf("FilterLogEvents: %v", err)
		}
		for _, x := range page.Events {
			if aws.ToInt64(x.Timestamp) < last || aws.ToString(x.EventId) == "" {
				t.Fatalf("event out of order or without id: %+v", x)
			}
			last = aws.ToInt64(x.Timestamp)
			matched++
		}
	}
	if matched != 12 {
		t.Fatalf("ERROR matched %d, want 12", matched)
	}

	// Retention and tags.
	if _, err := admin.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(group), RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatalf("PutRetentionPolicy: %v", err)
	}
	if _, err := admin.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(e.h.groupARN(group)), Tags: map[string]string{"team": "sre"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	tags, err := reader.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(e.h.groupARN(group))})
	if err != nil || tags.Tags["team"] != "sre" || tags.Tags["cluster"] != "demo" {
		t.Fatalf("ListTagsForResource: %v %v", tags, err)
	}
	dg, err := reader.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil || len(dg.LogGroups) != 1 || aws.ToInt32(dg.LogGroups[0].RetentionInDays) != 7 || aws.ToInt64(dg.LogGroups[0].StoredBytes) == 0 {
		t.Fatalf("DescribeLogGroups after retention: %+v %v", dg, err)
	}

	// Errors arrive typed.
	_, err = reader.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("reader DeleteLogGroup: %v", err)
	}
	_, err = reader.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("nope")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("GetLogEvents missing stream: %v", err)
	}
	if _, err := admin.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatalf("DeleteLogGroup: %v", err)
	}
	_, err = reader.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
	if !errors.As(err, &notFound) {
		t.Fatalf("FilterLogEvents deleted group: %v", err)
	}
}
