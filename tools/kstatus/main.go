// Command kstatus prints the kstatus verdict (sigs.k8s.io/cli-utils/pkg/kstatus/status,
// the library Flux and kpt use) for every Kubernetes object it reads.
//
// Input on stdin: YAML or JSON documents, one object each (a List's items are
// expanded). Output on stdout: one JSON line per object, in input order:
//
//	{"kind":"VirtualMachine","name":"hello","status":"Current","message":"Resource is Ready"}
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// verdict is one output line.
type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(in), 4096)
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decoding input: %w", err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		// The unstructured JSON scheme keeps integers as int64, as kstatus expects.
		decoded, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil)
		if err != nil {
			return fmt.Errorf("reading object: %w", err)
		}
		var objects []unstructured.Unstructured
		switch o := decoded.(type) {
		case *unstructured.Unstructured:
			objects = []unstructured.Unstructured{*o}
		case *unstructured.UnstructuredList:
			objects = o.Items
		default:
			return fmt.Errorf("unexpected object type %T", decoded)
		}
		for i := range objects {
			obj := &objects[i]
			result, err := status.Compute(obj)
			if err != nil {
				return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
			v := verdict{Kind: obj.GetKind(), Name: obj.GetName(), Status: result.Status.String(), Message: result.Message}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
	}
}
