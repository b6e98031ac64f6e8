package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseContentFile is ParseContent for the content read from the file
// name ("" when it has none): a JSON error says where, as
// "policy content FILE:LINE:COL: what", the way compilers and editors
// read positions.
func ParseContentFile(name string, r io.Reader) (*Content, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read policy content %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Content
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("policy content %s: %w", position(name, data, errorOffset(err, dec, data)), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("policy content %s: trailing data after the JSON object", position(name, data, dec.InputOffset()))
	}
	return &c, nil
}

// errorOffset is the byte offset a decode error points at: the syntax or
// type error's own offset, the end for a truncated document, else where
// the decoder stopped (for an unknown field: its key).
func errorOffset(err error, dec *json.Decoder, data []byte) int64 {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return syn.Offset
	case errors.As(err, &typ):
		return typ.Offset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return int64(len(data))
	}
	end := dec.InputOffset()
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// Point at the key itself, the last time it appears before the stop.
		if i := bytes.LastIndex(data[:max(0, min(end, int64(len(data))))], []byte(field)); i >= 0 {
			return int64(i) + 1
		}
	}
	return end
}

// position writes offset as name:line:col (1-based; the column counts
// bytes). The syntax error offset is just past the offending byte, so it
// points at that byte.
func position(name string, data []byte, offset int64) string {
	offset = max(0, min(offset, int64(len(data))))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int64(len(before)) - int64(bytes.LastIndexByte(before, '\n'))
	if offset > 0 && before[len(before)-1] != '\n' {
		col-- // the offset is after the byte in error
	}
	pos := fmt.Sprintf("%d:%d", line, max(col, 1))
	if name = strings.TrimSpace(name); name != "" {
		return name + ":" + pos
	}
	return "line " + strings.Replace(pos, ":", " column ", 1)
}
