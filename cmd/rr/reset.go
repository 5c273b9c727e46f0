package main

import (
	"errors"
	"log"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rpcclient"
	"github.com/spf13/cobra"
)

const (
	resetterList  = "resetter.List"
	resetterReset = "resetter.Reset"
)

func newResetCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reset [plugin...]",
		Short: "Reset workers of all or specific RoadRunner plugins",
		RunE: func(_ *cobra.Command, args []string) error {
			client, err := rpcclient.New(g.cfgFile, g.overrides)
			if err != nil {
				return err
			}
			defer func() { _ = client.Close() }()

			names, err := pluginNames(client, args, resetterList)
			if err != nil {
				return err
			}

			logger := log.New(os.Stderr, "", log.LstdFlags)

			_, _ = sdNotify(sdReloading)
			defer func() { _, _ = sdNotify(sdReady) }()

			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				failed []string
			)

			for _, name := range names {
				wg.Add(1)
				go func(name string) {
					defer wg.Done()

					if !g.silent {
						logger.Printf("resetting plugin: [%s]", name)
					}

					var done bool
					call := <-client.Go(resetterReset, name, &done, nil).Done
					if call.Error != nil {
						logger.Printf("failed to reset plugin [%s]: %v", name, call.Error)
						mu.Lock()
						failed = append(failed, name)
						mu.Unlock()

						return
					}

					if !g.silent {
						logger.Printf("plugin reset: [%s]", name)
					}
				}(name)
			}

			wg.Wait()

			if len(failed) > 0 {
				sort.Strings(failed)

				return errors.New("failed to reset: " + strings.Join(failed, ", "))
			}

			return nil
		},
	}
}
