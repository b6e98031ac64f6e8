package cli

// Parse is Invocation.Parse followed by Check on the command's stderr: a
// variable that did not parse, its flag not given, is a usage error.
func (e *EnvFlags) Parse(nargs int) (int, bool) {
	if code, ok := e.c.Parse(nargs); !ok {
		return code, false
	}
	if !e.Check(e.c.Env.Stderr) {
		return ExitUsage, false
	}
	return ExitOK, true
}
