// Command falcon-emulator serves the Falcon Installation Tokens API emulator of package falcontest.
//
//	falcon-emulator --listen 127.0.0.1:8080 --tenants 3 --mssp --events 1000000 --ties 15000 \
//	    --rate-limit 600 --fault-5xx-rate 0.01 --activity-interval 1s
//
// At start it prints the listen URL and, per tenant, its CID, region and client ID (secrets only with
// --print-secrets). Tenants are deterministic for --seed. SIGINT or SIGTERM shuts it down gracefully. Bad
// flags print one line naming the flag and exit with status 2.
package main
