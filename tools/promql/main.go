// Command promql parses PromQL expressions with Prometheus' own parser
// (github.com/prometheus/prometheus/promql/parser) and prints the metric
// names each one selects, so tests can check alert rules and dashboards
// against the metrics a program really exports.
//
// Input on stdin: one JSON string (an expression) per line. Output: one JSON
// line per input, {"expr": "...", "metrics": ["a", "b"]} or
// {"expr": "...", "error": "..."} when it does not parse.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func names(expr parser.Expr) []string {
	seen := map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			seen[vs.Name] = true
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				seen[m.Value] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	enc := json.NewEncoder(os.Stdout)
	p := parser.NewParser(parser.Options{})
	for scanner.Scan() {
		if len(scanner.Bytes()) == 0 {
			continue
		}
		var expr string
		if err := json.Unmarshal(scanner.Bytes(), &expr); err != nil {
			fmt.Fprintln(os.Stderr, "promql: input lines must be JSON strings:", err)
			os.Exit(2)
		}
		r := result{Expr: expr}
		parsed, err := p.ParseExpr(expr)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Metrics = names(parsed)
		}
		if err := enc.Encode(r); err != nil {
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "promql:", err)
		os.Exit(1)
	}
}
