package app

// Draining is closed when Stop has begun waiting for the background jobs (tests).
func Draining(a *App) <-chan struct{} { return a.jobs.draining }
