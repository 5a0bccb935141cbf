package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/fleet"
)

// newFleetCommand groups the commands of fleet profiles: validate checks
// a file, and the others read and write the profiles stored in Consul KV.
func newFleetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Check and store Envoy fleet profiles in Consul KV (switchyard/fleets/<cluster>)",
		Long: "A fleet profile says what the Envoy proxies of one node.cluster get: listeners,\n" +
			"certificates, the services they see, access logs and route defaults. The schema is\n" +
			"documented in the fleet package. Profiles are stored in Consul KV at\n" +
			"switchyard/fleets/<cluster>, as the file's bytes (JSON or YAML), and only once valid;\n" +
			"Switchyard serves them to the proxies whose node.cluster names the fleet. Every write\n" +
			"is a check-and-set on the key's modify index, so that two operators cannot overwrite\n" +
			"each other's profile unseen.",
	}
	cmd.AddCommand(newFleetValidateCommand(), newFleetListCommand(), newFleetGetCommand(),
		newFleetApplyCommand(), newFleetDeleteCommand(), newFleetDiffCommand())
	return cmd
}

// newFleetValidateCommand checks one profile file: it prints a summary
// and exits 0 when the profile is valid, and prints every problem and
// exits 1 when it is not.
func newFleetValidateCommand() *cobra.Command {
	var services []string
	cmd := &cobra.Command{
		Use:   "validate <file>",
		Short: "Check a fleet profile file (JSON or YAML) and summarise it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFleetValidate(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], services)
		},
	}
	cmd.Flags().StringSliceVar(&services, "service", nil,
		"a service name in the catalog (repeatable); warns about names and globs of the profile that match none")
	return cmd
}

// runFleetValidate reads and checks the profile at path.
func runFleetValidate(stdout, stderr io.Writer, path string, services []string) error {
	p, _, err := readFleetProfile(stderr, path)
	if err != nil {
		return err
	}
	if err := renderFleetSummary(stdout, p); err != nil {
		return err
	}
	if services != nil {
		printFleetWarnings(stderr, path, p, services)
	}
	return nil
}

// readFleetProfile reads and parses the profile file at path. When it is
// invalid it writes each problem to stderr, prefixed with the path, and
// returns an error counting them.
func readFleetProfile(stderr io.Writer, path string) (fleet.Profile, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return fleet.Profile{}, nil, fmt.Errorf("read fleet profile: %w", err)
	}
	p, err := fleet.Parse(data)
	if err != nil {
		problems := strings.Split(err.Error(), "\n")
		for _, line := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", path, line)
		}
		return fleet.Profile{}, nil, fmt.Errorf("%s: invalid fleet profile: %d problem%s", path, len(problems), pluralS(len(problems)))
	}
	return p, data, nil
}

// printFleetWarnings writes what is suspicious in p given the catalog's
// service names.
func printFleetWarnings(stderr io.Writer, path string, p fleet.Profile, services []string) {
	for _, w := range p.Warnings(services) {
		fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
	}
}

// renderFleetSummary writes what a valid profile gives its fleet.
func renderFleetSummary(w io.Writer, p fleet.Profile) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ok: fleet profile version %d, %d listener%s, services: %s\n",
		p.Version, len(p.Listeners), pluralS(len(p.Listeners)), describeServices(p.Services))
	for _, l := range p.Listeners {
		fmt.Fprintf(&b, "  listener %s: %s on %s:%d", l.Name, l.Protocol, l.Address, l.Port)
		switch l.Protocol {
		case fleet.ProtocolHTTPS:
			fmt.Fprintf(&b, ", %d certificate%s, min %s, alpn %s", len(l.Certificates), pluralS(len(l.Certificates)),
				l.MinTLSVersion, strings.Join(l.ALPN, ","))
			if l.RedirectHTTPPort != 0 {
				fmt.Fprintf(&b, ", redirect from http port %d", l.RedirectHTTPPort)
			}
		case fleet.ProtocolTCP:
			fmt.Fprintf(&b, " → service %s", l.Service)
		}
		b.WriteString("\n")
		for _, c := range l.Certificates {
			names := strings.Join(c.SNI, ", ")
			if names == "" {
				names = "(default)"
			}
			fmt.Fprintf(&b, "    certificate %s: %s\n", c.Secret, names)
		}
	}
	if a := p.AccessLog; a != nil {
		fmt.Fprintf(&b, "  access log: %s, %s, fields %s\n", a.Path, a.Format, strings.Join(a.Fields, ","))
	} else {
		b.WriteString("  access log: none\n")
	}
	fmt.Fprintf(&b, "  routes: timeout %s", p.Routes.Timeout)
	if p.Routes.RetryOn != "" {
		fmt.Fprintf(&b, ", retry on %s up to %d time%s", p.Routes.RetryOn, p.Routes.NumRetries, pluralS(p.Routes.NumRetries))
	}
	fmt.Fprintf(&b, "\n  request id: %t, use remote address: %t, trusted x-forwarded-for hops: %d\n",
		p.RequestID, p.UseRemoteAddress, p.XFFNumTrustedHops)
	switch h := p.Health; {
	case h == nil:
		b.WriteString("  health endpoint: none\n")
	case h.Port != 0:
		fmt.Fprintf(&b, "  health endpoint: %s on its own http port %d\n", h.Path, h.Port)
	default:
		fmt.Fprintf(&b, "  health endpoint: %s on every http and https listener\n", h.Path)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// describeServices says in one phrase which services a fleet sees.
func describeServices(s fleet.Services) string {
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, "named "+strings.Join(s.Names, " or "))
	}
	if len(s.Tags) > 0 {
		parts = append(parts, "tagged "+strings.Join(s.Tags, " and "))
	}
	if len(s.Meta) > 0 {
		pairs := make([]string, 0, len(s.Meta))
		for k, v := range s.Meta {
			pairs = append(pairs, k+"="+v)
		}
		slices.Sort(pairs)
		parts = append(parts, "with meta "+strings.Join(pairs, ", "))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, "; ")
}

// pluralS is "s" unless n is one.
func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
