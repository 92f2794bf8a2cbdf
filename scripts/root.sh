# Sourced by the install scripts: need_root WHAT sets $sudo ("" as root, "sudo" otherwise),
# or stops, saying what to install as root.
need_root() {
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "installing $1 needs root: run 'apt-get install $1' as root" >&2
      exit 1
    }
    sudo="sudo"
  fi
}
