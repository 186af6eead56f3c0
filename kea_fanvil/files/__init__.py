"""The provisioning files of a policy: build, version, encrypt and write them."""
