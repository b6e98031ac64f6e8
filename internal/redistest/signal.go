package redistest

import "syscall"

// Pause stops the server's process (SIGSTOP): it answers nothing, keeps its
// connections, and replicates nothing, until Resume (SIGCONT). Resume is
// also registered as the test's cleanup by the callers that pause.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Signal(sig)
	}
}
