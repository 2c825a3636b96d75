package metricstore

import (
	"encoding/json"
	"net/http"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// The JSON written here is byte for byte what Prometheus's web/api/v1
// JSON codec writes (that package is not imported: it registers global
// encoders in init and pulls in the scrape manager, rules and notifier):
// timestamps as unix seconds with millisecond decimals, sample values as
// strings ("1.5", "+Inf", "NaN"), labels as objects in label order.

// Error types of the Prometheus API and the HTTP status each is sent with.
const (
	errBadData     = "bad_data"
	errExec        = "execution"
	errTimeout     = "timeout"
	errCanceled    = "canceled"
	errInternal    = "internal"
	errUnavailable = "unavailable"
	errNotFound    = "not_found"
	// Not Prometheus's (it has no authentication of its own); the statuses
	// are those of its web.yml basic auth and of a reverse proxy.
	errUnauthorized = "unauthorized"
	errForbidden    = "forbidden"
)

func errorStatus(typ string) int {
	switch typ {
	case errBadData:
		return http.StatusBadRequest
	case errExec:
		return http.StatusUnprocessableEntity
	case errCanceled:
		return 499 // Prometheus's "client closed connection"
	case errTimeout, errUnavailable:
		return http.StatusServiceUnavailable
	case errNotFound:
		return http.StatusNotFound
	case errUnauthorized:
		return http.StatusUnauthorized
	case errForbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

var jsonAPI = jsoniter.ConfigCompatibleWithStandardLibrary

// writeSuccess writes {"status":"success","data":…,"warnings":…,"infos":…};
// data writes the data value.
func writeSuccess(w http.ResponseWriter, data func(*jsoniter.Stream), warnings, infos []string) {
	st := jsonAPI.BorrowStream(nil)
	defer jsonAPI.ReturnStream(st)
	st.WriteObjectStart()
	st.WriteObjectField("status")
	st.WriteString("success")
	st.WriteMore()
	st.WriteObjectField("data")
	data(st)
	if len(warnings) > 0 {
		st.WriteMore()
		st.WriteObjectField("warnings")
		writeStrings(st, warnings)
	}
	if len(infos) > 0 {
		st.WriteMore()
		st.WriteObjectField("infos")
		writeStrings(st, infos)
	}
	st.WriteObjectEnd()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(st.Buffer())
}

// writeAPIError writes {"status":"error","errorType":…,"error":…}.
func writeAPIError(w http.ResponseWriter, typ, msg string, warnings []string) int {
	body := struct {
		Status    string   `json:"status"`
		ErrorType string   `json:"errorType"`
		Error     string   `json:"error"`
		Warnings  []string `json:"warnings,omitempty"`
	}{"error", typ, msg, warnings}
	b, _ := json.Marshal(body)
	code := errorStatus(typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	return code
}

func writeStrings(st *jsoniter.Stream, ss []string) {
	st.WriteArrayStart()
	for i, s := range ss {
		if i > 0 {
			st.WriteMore()
		}
		st.WriteString(s)
	}
	st.WriteArrayEnd()
}

func writeValue(st *jsoniter.Stream, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		st.WriteNil()
		return
	}
	st.WriteRaw(string(b))
}

// writeQueryData writes {"resultType":…,"result":…}.
func writeQueryData(st *jsoniter.Stream, v promql.Result) {
	st.WriteObjectStart()
	st.WriteObjectField("resultType")
	st.WriteString(string(v.Value.Type()))
	st.WriteMore()
	st.WriteObjectField("result")
	switch r := v.Value.(type) {
	case promql.Vector:
		st.WriteArrayStart()
		for i, s := range r {
			if i > 0 {
				st.WriteMore()
			}
			writeSample(st, s)
		}
		st.WriteArrayEnd()
	case promql.Matrix:
		st.WriteArrayStart()
		for i, s := range r {
			if i > 0 {
				st.WriteMore()
			}
			writeSeries(st, s)
		}
		st.WriteArrayEnd()
	default: // promql.Scalar, promql.String: their MarshalJSON is the API's
		writeValue(st, r)
	}
	st.WriteObjectEnd()
}

func writeSeries(st *jsoniter.Stream, s promql.Series) {
	st.WriteObjectStart()
	st.WriteObjectField("metric")
	writeLabels(st, s.Metric)
	for i, p := range s.Floats {
		st.WriteMore()
		if i == 0 {
			st.WriteObjectField("values")
			st.WriteArrayStart()
		}
		st.WriteArrayStart()
		jsonutil.MarshalTimestamp(p.T, st)
		st.WriteMore()
		jsonutil.MarshalFloat(p.F, st)
		st.WriteArrayEnd()
	}
	if len(s.Floats) > 0 {
		st.WriteArrayEnd()
	}
	for i, p := range s.Histograms {
		st.WriteMore()
		if i == 0 {
			st.WriteObjectField("histograms")
			st.WriteArrayStart()
		}
		st.WriteArrayStart()
		jsonutil.MarshalTimestamp(p.T, st)
		st.WriteMore()
		jsonutil.MarshalHistogram(p.H, st)
		st.WriteArrayEnd()
	}
	if len(s.Histograms) > 0 {
		st.WriteArrayEnd()
	}
	st.WriteObjectEnd()
}

func writeSample(st *jsoniter.Stream, s promql.Sample) {
	st.WriteObjectStart()
	st.WriteObjectField("metric")
	writeLabels(st, s.Metric)
	st.WriteMore()
	if s.H == nil {
		st.WriteObjectField("value")
	} else {
		st.WriteObjectField("histogram")
	}
	st.WriteArrayStart()
	jsonutil.MarshalTimestamp(s.T, st)
	st.WriteMore()
	if s.H == nil {
		jsonutil.MarshalFloat(s.F, st)
	} else {
		jsonutil.MarshalHistogram(s.H, st)
	}
	st.WriteArrayEnd()
	st.WriteObjectEnd()
}

func writeLabels(st *jsoniter.Stream, ls labels.Labels) {
	st.WriteObjectStart()
	i := 0
	ls.Range(func(l labels.Label) {
		if i > 0 {
			st.WriteMore()
		}
		i++
		st.WriteString(l.Name)
		st.WriteRaw(":")
		st.WriteString(l.Value)
	})
	st.WriteObjectEnd()
}
