package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// rowFormat is docker's --format: a Go template run once per row, "table
// TEMPLATE" (a header row made of docker's column names, then tab-aligned
// rows), or "json" (each row as one JSON object of docker's keys).
type rowFormat struct {
	tmpl   *template.Template
	table  bool
	header map[string]string // field name -> docker's column name
}

// templateFuncs are docker's template functions (text/template adds
// index, println, len, printf, …).
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSpace(b.String())
	},
	"split": strings.Split,
	"join":  strings.Join,
	//lint:ignore SA1019 docker's title is strings.Title
	"title": strings.Title, //nolint:staticcheck
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, prefix, suffix int) string {
		if s == "" {
			return s
		}
		return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
	},
	"truncate": func(s string, n int) string {
		if len(s) < n {
			return s
		}
		return s[:n]
	},
}

// headerFuncs render the header row: functions that would change a
// value leave the column name as it is, as docker's do.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// parseTemplate parses a user template with docker's functions; the
// error is docker's "template parsing error: …".
func parseTemplate(text string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %v", err)
	}
	return t, nil
}

// newRowFormat reads --format as docker does: "" and "table" are the
// default table (def, without "table "), "json" is {{json .}}, "table X"
// is a table of template X, anything else a template printed per row.
func newRowFormat(format, def string, header map[string]string) (*rowFormat, error) {
	switch {
	case format == "" || format == "table":
		format = "table " + def
	case format == "json":
		format = "{{json .}}"
	}
	f := &rowFormat{header: header}
	if strings.HasPrefix(format, "table") {
		f.table = true
		format = format[len("table"):]
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.Trim(format, " "))
	t, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	f.tmpl = t
	return f, nil
}

// write prints rows; zero is a row's zero value, on which the template is
// tried when there are no rows, so a bad field is an error either way.
func (f *rowFormat) write(w io.Writer, rows []any, zero any) error {
	var body bytes.Buffer
	if len(rows) == 0 {
		if err := f.tmpl.Execute(io.Discard, zero); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
	}
	for _, r := range rows {
		if err := f.tmpl.Execute(&body, r); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
		body.WriteString("\n")
	}
	if !f.table {
		_, err := w.Write(body.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	var hdr bytes.Buffer
	if err := f.tmpl.Funcs(headerFuncs).Execute(&hdr, f.header); err != nil {
		return fmt.Errorf("template parsing error: %v", err)
	}
	f.tmpl.Funcs(templateFuncs)
	hdr.WriteString("\n")
	if _, err := tw.Write(hdr.Bytes()); err != nil {
		return err
	}
	if _, err := tw.Write(body.Bytes()); err != nil {
		return err
	}
	return tw.Flush()
}

// printRows is write on stdout.
func (f *rowFormat) printRows(rows []any, zero any) error {
	return f.write(os.Stdout, rows, zero)
}

// methodsJSON is docker's formatter.MarshalJSON: an object whose keys are
// the row's exported methods that take nothing and return one value.
func methodsJSON(x any) ([]byte, error) {
	v := reflect.ValueOf(x)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, errors.New("expected a pointer to a struct")
	}
	m := map[string]any{}
	t := v.Type()
	for i := 0; i < v.NumMethod(); i++ {
		name := t.Method(i).Name
		mt := v.Method(i).Type()
		if !unicode.IsUpper(rune(name[0])) || mt.NumIn() != 0 || mt.NumOut() != 1 {
			continue
		}
		m[name] = v.Method(i).Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}

// fieldNames lists a header map's keys, for --help texts.
func fieldNames(header map[string]string) string {
	names := make([]string, 0, len(header))
	for k := range header {
		names = append(names, "."+k)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
