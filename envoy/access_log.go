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
	// JSONFields, when set, writes one JSON object a request instead of a
	// line of text: it maps each JSON key to an Envoy command operator
	// such as "%RESPONSE_CODE%". A field that is one operator keeps its
	// type, so numbers stay numbers.
	JSONFields map[string]string
	// TextFormat is the format of a text line, in Envoy command
	// operators; empty keeps Envoy's default format.
	TextFormat string
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
	case len(opts.JSONFields) > 0:
		values := make(map[string]*structpb.Value, len(opts.JSONFields))
		for k, v := range opts.JSONFields {
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
