package cli

import (
	"io"
	"os"
	"time"
)

// Env is what a command takes from its surroundings: its output streams,
// its environment and its clock. Tests set them; nil fields take the
// process's own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
}

// Fill returns a copy of e (which may be nil) with every nil field set to
// the process's own: os.Stdout, os.Stderr, os.Getenv, time.Now.
func (e *Env) Fill() *Env {
	out := Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
	if e != nil {
		if e.Stdout != nil {
			out.Stdout = e.Stdout
		}
		if e.Stderr != nil {
			out.Stderr = e.Stderr
		}
		if e.Getenv != nil {
			out.Getenv = e.Getenv
		}
		if e.Now != nil {
			out.Now = e.Now
		}
	}
	return &out
}
