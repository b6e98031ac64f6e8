package proof

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// Formats of WriteReports.
var Formats = []string{"text", "tap", "junit", "json"}

// WriteReports writes the reports of one run in format: text (a line per
// test and the "N passed, N failed, N skipped" summary), tap (TAP 13),
// junit (JUnit XML for CI) or json.
func WriteReports(w io.Writer, format string, reports []*Report) {
	var passed, failed, skipped int
	for _, r := range reports {
		passed, failed, skipped = passed+r.Passed, failed+r.Failed, skipped+r.Skipped
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"proofs": reports, "passed": passed, "failed": failed, "skipped": skipped})
	case "tap":
		fmt.Fprintf(w, "TAP version 13\n1..%d\n", passed+failed+skipped)
		n := 0
		for _, r := range reports {
			for _, t := range r.Results {
				n++
				switch t.Status {
				case Pass:
					fmt.Fprintf(w, "ok %d - %s/%s # %s\n", n, r.Proof, t.Test, t.Evidence)
				case Skip:
					fmt.Fprintf(w, "ok %d - %s/%s # SKIP %s\n", n, r.Proof, t.Test, t.Evidence)
				default:
					fmt.Fprintf(w, "not ok %d - %s/%s\n  ---\n  message: %q\n  ...\n", n, r.Proof, t.Test, t.Evidence)
				}
			}
		}
	case "junit":
		writeJUnit(w, reports)
	default:
		for _, r := range reports {
			for _, t := range r.Results {
				fmt.Fprintf(w, "%s %s/%s: %s\n", t.Status, r.Proof, t.Test, t.Evidence)
			}
		}
		fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	}
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Time      string     `xml:"time,attr"`
	Failure   *junitText `xml:"failure,omitempty"`
	Skipped   *junitText `xml:"skipped,omitempty"`
	Output    string     `xml:"system-out,omitempty"`
}

type junitText struct {
	Message string `xml:"message,attr"`
}

func writeJUnit(w io.Writer, reports []*Report) {
	var out junitSuites
	for _, r := range reports {
		s := junitSuite{Name: r.Proof, Tests: len(r.Results), Failures: r.Failed, Skipped: r.Skipped, Time: junitSecs(r.Duration)}
		for _, t := range r.Results {
			jc := junitCase{Name: t.Test, Classname: "" + r.Proof, Time: junitSecs(t.Duration), Output: t.Evidence}
			switch t.Status {
			case Fail:
				jc.Failure = &junitText{Message: t.Evidence}
			case Skip:
				jc.Skipped = &junitText{Message: t.Evidence}
			}
			s.Cases = append(s.Cases, jc)
		}
		out.Suites = append(out.Suites, s)
	}
	fmt.Fprint(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	enc.Encode(out)
	fmt.Fprintln(w)
}

func junitSecs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
