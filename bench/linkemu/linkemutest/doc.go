// Package linkemutest checks, for tests, that a process which built TUN
// links and then ended (closed, crashed, interrupted) left nothing of
// them behind: neither the processes it started in the links'
// namespaces, nor the namespaces, which are anonymous and so exist only
// while a thread is in one or an fd is open on it. The tests of
// bench/linkemu and bench use it; nothing else imports it. It works on
// Linux only, like the links.
package linkemutest
