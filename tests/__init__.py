"""The test suite. A regular package (not a namespace one): model-index, a test dependency, installs a top-level
`tests` package of its own, which would otherwise shadow this folder in `import tests.helpers...`."""
