package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

func init() {
	register("login", "log in and print a user token", runLogin)
	register("register", "create a user and print its token", runRegister)
}

const loginSynopsis = `
login --username USER (--password PASSWORD | --password-stdin) [flags]

Logs in to Parley and prints the user token, alone on its line, for
PARLEY_TOKEN or --token.`

const loginExamples = `  export PARLEY_TOKEN=$(parley login --username alice --password s3cret)
  pass show parley/alice | parley login --username alice --password-stdin`

const registerSynopsis = `
register --username USER (--password PASSWORD | --password-stdin) [flags]

Creates a user and prints its token, alone on its line, for PARLEY_TOKEN
or --token. User names are 1 to 64 characters of a-z, 0-9, "_", "-" and
".", starting with a letter or digit.`

const registerExamples = `  export PARLEY_TOKEN=$(parley register --username alice --password pw)
  parley register --username bob --password-stdin < bob.pass`

// runLogin is `parley login`.
func runLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("login", loginSynopsis, loginExamples, stderr)
	return authenticate(ctx, fs, o, "/v1/auth/login", args, stdout)
}

// runRegister is `parley register`.
func runRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("register", registerSynopsis, registerExamples, stderr)
	return authenticate(ctx, fs, o, "/v1/auth/register", args, stdout)
}

// authenticate posts a user name and password to path, a route that
// answers {token, user}, and prints the token.
func authenticate(ctx context.Context, fs *flag.FlagSet, o *clientOptions, path string,
	args []string, stdout io.Writer) error {
	cred, err := parseCredentials(fs, args)
	if err != nil {
		return err
	}
	c, err := o.newClient("")
	if err != nil {
		return err
	}

	var answer struct {
		Token string `json:"token"`
	}
	raw, err := c.call(ctx, "POST", path, cred, &answer)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	fmt.Fprintln(stdout, answer.Token)
	return nil
}

// credentials are the body of login and register.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// parseCredentials defines the flags of login and register on fs, parses
// args and returns the credentials they give.
func parseCredentials(fs *flag.FlagSet, args []string) (credentials, error) {
	var cred credentials
	fs.StringVar(&cred.Username, "username", "", "the user name")
	fs.StringVar(&cred.Password, "password", "", "the password")
	fromStdin := fs.Bool("password-stdin", false,
		"read the password from the first line of standard input instead")
	pos, err := parse(fs, args)
	if err != nil {
		return cred, err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return cred, err
	}

	if *fromStdin {
		if cred.Password, err = readPassword(); err != nil {
			return cred, err
		}
	}
	if cred.Username == "" || cred.Password == "" {
		return cred, usageError{"--username and a password are required"}
	}
	return cred, nil
}

// readPassword reads the first line of standard input.
func readPassword() (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, maxStdin)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
