package main

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// module is the Go module whose sources docgen reads.
type module struct {
	root string // directory holding go.mod
	path string // module path
}

// findModule returns the module that contains dir.
func findModule(dir string) (module, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return module{}, err
	}
	for d := abs; ; d = filepath.Dir(d) {
		f, err := os.Open(filepath.Join(d, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if p, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return module{root: d, path: strings.Trim(strings.TrimSpace(p), `"`)}, nil
				}
			}
			return module{}, fmt.Errorf("%s: no module line", f.Name())
		}
		if !errors.Is(err, os.ErrNotExist) {
			return module{}, err
		}
		if filepath.Dir(d) == d {
			return module{}, fmt.Errorf("no go.mod in %s or above", abs)
		}
	}
}

// typeInfo is the documentation of one struct type.
type typeInfo struct {
	// name is the qualified name, "config.ServerConfig".
	name string
	// doc is the type's doc comment.
	doc string
	// fields are the doc comments of its fields, by Go field name.
	fields map[string]string
	// pkg is the declaring package; its doc comment parser and printer turn
	// comments into Markdown.
	pkg *doc.Package
}

// sources reads doc comments from the module's Go files, parsing each
// package once.
type sources struct {
	mod  module
	fset *token.FileSet
	pkgs map[string]*doc.Package
}

func newSources(mod module) *sources {
	return &sources{mod: mod, fset: token.NewFileSet(), pkgs: make(map[string]*doc.Package)}
}

// pkg parses the package with the given import path (one of the module's).
func (s *sources) pkg(importPath string) (*doc.Package, error) {
	if p, ok := s.pkgs[importPath]; ok {
		return p, nil
	}
	rel, ok := strings.CutPrefix(importPath, s.mod.path)
	if !ok || (rel != "" && rel[0] != '/') {
		return nil, fmt.Errorf("package %s is outside module %s", importPath, s.mod.path)
	}
	dir := filepath.Join(s.mod.root, filepath.FromSlash(rel))
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", importPath, err)
	}
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(s.fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(s.fset, files, importPath)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", importPath, err)
	}
	s.pkgs[importPath] = p
	return p, nil
}

// typeInfo returns the documentation of the struct type t.
func (s *sources) typeInfo(t reflect.Type) (*typeInfo, error) {
	p, err := s.pkg(t.PkgPath())
	if err != nil {
		return nil, err
	}
	qualified := p.Name + "." + t.Name()
	for _, dt := range p.Types {
		if dt.Name != t.Name() {
			continue
		}
		st := structOf(dt.Decl, t.Name())
		if st == nil {
			return nil, fmt.Errorf("%s is not a struct type", qualified)
		}
		info := &typeInfo{name: qualified, doc: dt.Doc, fields: make(map[string]string), pkg: p}
		for _, f := range st.Fields.List {
			text := f.Doc.Text()
			if text == "" {
				text = f.Comment.Text()
			}
			for _, n := range f.Names {
				info.fields[n.Name] = text
			}
		}
		return info, nil
	}
	return nil, fmt.Errorf("type %s not found in %s", qualified, t.PkgPath())
}

// structOf finds the struct type named name in a type declaration.
func structOf(decl *ast.GenDecl, name string) *ast.StructType {
	for _, spec := range decl.Specs {
		if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.Name == name {
			st, _ := ts.Type.(*ast.StructType)
			return st
		}
	}
	return nil
}
