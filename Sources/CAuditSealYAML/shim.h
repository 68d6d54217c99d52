// Debian's libyaml (libyaml-dev): the YAML 1.1 parser Yams also wraps.
#include <yaml.h>
