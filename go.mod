module github.com/imgtool/imgtool

go 1.26.8

require (
	github.com/google/go-containerregistry v0.22.1
	github.com/klauspost/compress v1.20.3
	github.com/klauspost/pgzip v1.3.0
	github.com/spf13/pflag v1.1.0
	github.com/ulikunitz/xz v0.5.17
	github.com/vbatts/tar-split v0.12.3
	golang.org/x/sys v0.50.0
)

require github.com/opencontainers/go-digest v1.0.0 // indirect
