package plugin

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// docs are the doc comments of Go types and their fields, by
// "<package path>.<Type>" and "<package path>.<Type>.<Field>": the
// descriptions of the schema. A nil docs describes nothing (at run time the
// plugin serves the schema generated from the source).
type docs map[string]string

func (d docs) typ(t reflect.Type) string { return d[t.PkgPath()+"."+t.Name()] }

func (d docs) field(t reflect.Type, name string) string {
	return d[t.PkgPath()+"."+t.Name()+"."+name]
}

// readDocs reads the doc comments of every type declared in the packages
// of this module (module, rooted at root) that types, or the types of their
// fields, come from.
func readDocs(root, module string, types ...reflect.Type) (docs, error) {
	d := docs{}
	read := map[string]bool{}
	var walk func(t reflect.Type) error
	seen := map[reflect.Type]bool{}
	walk = func(t reflect.Type) error {
		t = elemType(t)
		if t.Kind() != reflect.Struct || seen[t] {
			return nil
		}
		seen[t] = true
		if pkg := t.PkgPath(); strings.HasPrefix(pkg, module+"/") && !read[pkg] {
			read[pkg] = true
			if err := d.readPackage(filepath.Join(root, strings.TrimPrefix(pkg, module+"/")), pkg); err != nil {
				return err
			}
		}
		for i := range t.NumField() {
			if err := walk(t.Field(i).Type); err != nil {
				return err
			}
		}
		return nil
	}
	for _, t := range types {
		if err := walk(t); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readPackage adds the doc comments of the types declared in the Go files
// (tests left out) of dir, the package pkg.
func (d docs) readPackage(dir, pkg string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("the source of %s: %w", pkg, err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gen.Specs) == 1 {
					doc = gen.Doc
				}
				d[pkg+"."+ts.Name.Name] = text(doc)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, f := range st.Fields.List {
					doc := f.Doc
					if doc == nil {
						doc = f.Comment
					}
					for _, n := range f.Names {
						d[pkg+"."+ts.Name.Name+"."+n.Name] = text(doc)
					}
				}
			}
		}
	}
	return nil
}

// text is a doc comment as one paragraph per paragraph of the source.
func text(c *ast.CommentGroup) string {
	if c == nil {
		return ""
	}
	paragraphs := strings.Split(strings.TrimSpace(c.Text()), "\n\n")
	for i, p := range paragraphs {
		paragraphs[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.Join(paragraphs, "\n\n")
}
