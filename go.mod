module github.com/imgtool/imgtool

go 1.26.8

require (
	github.com/google/go-containerregistry v0.22.1
	github.com/klauspost/compress v1.20.3
	github.com/klauspost/pgzip v1.3.0
	github.com/ulikunitz/xz v0.5.17
)

require github.com/opencontainers/go-digest v1.0.0 // indirect
