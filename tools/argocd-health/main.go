// Command argocd-health runs Argo CD resource health scripts (Lua, as in the
// argocd-cm keys resource.customizations.health.<group>_<kind>) the way Argo
// CD does: with github.com/yuin/gopher-lua, the object as the global `obj`,
// and the returned table's `status` and `message` as the verdict.
//
// Input on stdin: one JSON object per line, {"script": "...", "object": {...}}.
// Output: one JSON line per input, {"status": "Healthy", "message": "..."} or
// {"error": "..."} when the script fails or returns no status.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
)

type request struct {
	Script string      `json:"script"`
	Object interface{} `json:"object"`
}

type verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// toLua converts decoded JSON into Lua values: objects and arrays become
// tables (arrays 1-based), null becomes nil.
func toLua(L *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := L.NewTable()
		for _, item := range x {
			t.Append(toLua(L, item))
		}
		return t
	case map[string]interface{}:
		t := L.NewTable()
		for k, item := range x {
			t.RawSetString(k, toLua(L, item))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(x))
	}
}

func evaluate(req request) verdict {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	// The libraries Argo CD opens for health scripts.
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, req.Object))
	if err := L.DoString(req.Script); err != nil {
		return verdict{Error: err.Error()}
	}
	table, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return verdict{Error: "the script did not return a table"}
	}
	status := table.RawGetString("status")
	if status.Type() != lua.LTString {
		return verdict{Error: "the returned table has no status"}
	}
	message := table.RawGetString("message")
	v := verdict{Status: status.String()}
	if message.Type() == lua.LTString {
		v.Message = message.String()
	}
	return v
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 4<<20), 4<<20)
	enc := json.NewEncoder(os.Stdout)
	for scanner.Scan() {
		if len(scanner.Bytes()) == 0 {
			continue
		}
		var req request
		if err := json.Unmarshal(scanner.Bytes(), &req); err != nil {
			fmt.Fprintln(os.Stderr, "argocd-health: bad input line:", err)
			os.Exit(2)
		}
		if err := enc.Encode(evaluate(req)); err != nil {
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
}
