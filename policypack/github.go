package policypack

import (
	"fmt"
	"regexp"
	"slices"
)

const (
	repositoryType = "github:index/repository:Repository"
	rulesetType    = "github:index/repositoryRuleset:RepositoryRuleset"
)

// defaultBranchRefs are the ref conditions that cover a repository's
// default branch, whatever it is named.
var defaultBranchRefs = []string{"~DEFAULT_BRANCH", "~ALL"}

func checkDefaultBranchRuleset(rs []Resource, _ Settings) []Violation {
	var rulesets []Resource
	for _, r := range rs {
		if r.Type == rulesetType {
			rulesets = append(rulesets, r)
		}
	}
	var out []Violation
	for _, repo := range rs {
		if repo.Type != repositoryType {
			continue
		}
		if !slices.ContainsFunc(rulesets, func(rs Resource) bool { return guardsDefaultBranch(rs, repo) }) {
			name, _ := str(repo.Properties, "name")
			out = append(out, Violation{URN: repo.URN, Path: "name", Message: fmt.Sprintf(
				"repository %q has no active branch ruleset on its default branch (target branch, conditions.refName.includes ~DEFAULT_BRANCH): anyone with write access can push to it, force-push or delete it", name)})
		}
	}
	return out
}

// guardsDefaultBranch says whether ruleset r is an active branch ruleset of
// repo that includes its default branch.
func guardsDefaultBranch(r Resource, repo Resource) bool {
	name, _ := str(repo.Properties, "name")
	target, _ := str(r.Properties, "target")
	enforcement, _ := str(r.Properties, "enforcement")
	if target != "branch" || enforcement != "active" {
		return false
	}
	of, known := str(r.Properties, "repository")
	if !(known && of == name || slices.Contains(r.DependsOn, repo.URN)) {
		return false
	}
	return slices.ContainsFunc(stringList(at(r.Properties, "conditions.refName.includes")), func(ref string) bool {
		return slices.Contains(defaultBranchRefs, ref)
	})
}

// secretName is a variable name that says it holds a credential.
var secretName = regexp.MustCompile(`(?i)(TOKEN|PASSWORD|PASSWD|SECRET|PRIVATE_?KEY|API_?KEY|CREDENTIAL)`)

// plainVariables are GitHub's Actions variables: their values show in the
// API and the UI to anyone who can read the repository's settings.
var plainVariables = []string{
	"github:index/actionsVariable:ActionsVariable",
	"github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
	"github:index/actionsOrganizationVariable:ActionsOrganizationVariable",
}

// secretStores are GitHub's Actions secrets, with the property that holds a
// value in plain text.
var secretStores = map[string]string{
	"github:index/actionsSecret:ActionsSecret":                         "plaintextValue",
	"github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret":   "plaintextValue",
	"github:index/actionsOrganizationSecret:ActionsOrganizationSecret": "plaintextValue",
	"github:index/dependabotSecret:DependabotSecret":                   "plaintextValue",
}

func checkNoPlainSecrets(r Resource, _ Settings) []Violation {
	if slices.Contains(plainVariables, r.Type) {
		var out []Violation
		if _, secret := r.Properties["value"].(Secret); secret {
			out = append(out, Violation{Path: "value", Message: "is a secret in a plain Actions variable, whose value anyone who reads the settings sees: use an Actions secret"})
		}
		if name, _ := str(r.Properties, "variableName"); secretName.MatchString(name) {
			out = append(out, Violation{Path: "variableName", Message: fmt.Sprintf("%q names a credential: keep it in an Actions secret, not a variable", name)})
		}
		return out
	}
	if key, ok := secretStores[r.Type]; ok {
		v, given := r.Properties[key]
		if _, secret := v.(Secret); given && v != nil && !secret && !isUnknown(v) {
			return []Violation{{Path: key, Message: "is not a Pulumi secret: it is stored in plain text in the stack's state; set it from secret config (pulumi config set --secret)"}}
		}
	}
	return nil
}
