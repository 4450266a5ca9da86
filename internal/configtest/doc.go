// Package configtest helps tests build component configurations: they name
// the settings they are about and take the defaults for the rest.
package configtest
