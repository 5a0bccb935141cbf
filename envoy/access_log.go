package envoy

import (
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Extension names of the access loggers this package configures.
const (
	fileAccessLogger   = "envoy.access_loggers.file"
	stdoutAccessLogger = "envoy.access_loggers.stdout"
)

// AccessLogOptions say where one access log goes and what a line holds.
type AccessLogOptions struct {
	// Path is the file written to; empty writes to Envoy's standard
	// output, which is what a container runtime collects.
	Path string
	// JSON writes one JSON object a request, with JSONFields, instead of a
	// line of text.
	JSON bool
	// JSONFields map each JSON key to an Envoy command operator such as
	// "%RESPONSE_CODE%"; empty means DefaultAccessLogFields.
	JSONFields map[string]string
	// TextFormat is the format of a text line, in Envoy command
	// operators; empty keeps Envoy's default format.
	TextFormat string
}

// DefaultAccessLogFields returns the fields of a JSON access log that sets
// none: when and what was asked (start_time, method, path, protocol,
// authority), how it went (response_code, response_flags, bytes_received,
// bytes_sent, duration), who asked (x_forwarded_for, user_agent,
// request_id) and who answered (upstream_cluster, upstream_host). A field
// that is one operator keeps its type, so numbers stay numbers.
func DefaultAccessLogFields() map[string]string {
	return map[string]string{
		"start_time":       "%START_TIME%",
		"method":           "%REQ(:METHOD)%",
		"path":             "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
		"protocol":         "%PROTOCOL%",
		"response_code":    "%RESPONSE_CODE%",
		"response_flags":   "%RESPONSE_FLAGS%",
		"bytes_received":   "%BYTES_RECEIVED%",
		"bytes_sent":       "%BYTES_SENT%",
		"duration":         "%DURATION%",
		"upstream_host":    "%UPSTREAM_HOST%",
		"x_forwarded_for":  "%REQ(X-FORWARDED-FOR)%",
		"user_agent":       "%REQ(USER-AGENT)%",
		"request_id":       "%REQ(X-REQUEST-ID)%",
		"authority":        "%REQ(:AUTHORITY)%",
		"upstream_cluster": "%UPSTREAM_CLUSTER%",
	}
}

// AccessLog returns an access log to a file, or to standard output when
// opts has no path, in text or JSON.
func AccessLog(opts AccessLogOptions) *accesslogv3.AccessLog {
	format := accessLogFormat(opts)
	name, config := stdoutAccessLogger, proto.Message(&streamv3.StdoutAccessLog{})
	if format != nil {
		config = &streamv3.StdoutAccessLog{AccessLogFormat: &streamv3.StdoutAccessLog_LogFormat{LogFormat: format}}
	}
	if opts.Path != "" {
		file := &filev3.FileAccessLog{Path: opts.Path}
		if format != nil {
			file.AccessLogFormat = &filev3.FileAccessLog_LogFormat{LogFormat: format}
		}
		name, config = fileAccessLogger, file
	}
	return &accesslogv3.AccessLog{
		Name:       name,
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(config)},
	}
}

// accessLogFormat returns the line format opts asks for, or nil for
// Envoy's default text line.
func accessLogFormat(opts AccessLogOptions) *corev3.SubstitutionFormatString {
	switch {
	case opts.JSON:
		fields := opts.JSONFields
		if len(fields) == 0 {
			fields = DefaultAccessLogFields()
		}
		values := make(map[string]*structpb.Value, len(fields))
		for k, v := range fields {
			values[k] = structpb.NewStringValue(v)
		}
		return &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: values}},
		}
	case opts.TextFormat != "":
		return &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_TextFormatSource{TextFormatSource: &corev3.DataSource{
				Specifier: &corev3.DataSource_InlineString{InlineString: opts.TextFormat},
			}},
		}
	default:
		return nil
	}
}
