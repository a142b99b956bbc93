package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// logFlags are the --log-format and --log-level flags of the commands
// that serve (relay, node run): one helper, so that both read them alike.
type logFlags struct {
	format, level *string
}

func addLogFlags(fl *flag.FlagSet) logFlags {
	return logFlags{
		format: fl.String("log-format", "text", "log `FORMAT`: text (key=value) or json (one JSON object a line)"),
		level:  fl.String("log-level", "info", "log `LEVEL`: debug, info, warn or error"),
	}
}

// logger returns the logger the flags ask for, writing to w, or a usage
// error naming the bad flag.
func (lf logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	switch *lf.level {
	case "debug", "info", "warn", "error":
		lv.UnmarshalText([]byte(*lf.level))
	default:
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, *lf.level)
	}
	return lf.handler(w, lv)
}

// always returns a logger in the flags' format that the level does not
// filter: for what a command must print whatever the level (the relay's
// key and address, say).
func (lf logFlags) always(w io.Writer) *slog.Logger {
	l, _ := lf.handler(w, slog.LevelDebug)
	return l
}

func (lf logFlags) handler(w io.Writer, lv slog.Level) (*slog.Logger, error) {
	opt := &slog.HandlerOptions{Level: lv}
	switch *lf.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opt)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opt)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, *lf.format)
}

// json reports whether the logs are JSON lines.
func (lf logFlags) json() bool { return *lf.format == "json" }
