module github.com/memwin/memwin/go_bindings

go 1.19
