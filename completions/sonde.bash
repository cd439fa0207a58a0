# bash completion for sonde and every sonde-TOOL command.
#
# Tool names come from `sonde list --names` and each tool's options from
# `sonde-TOOL --list-options` at completion time, so a tool's completion
# follows its options without edits here. The only list of tools is the
# `complete` line at the end: it names every command this file completes.

# PIDs running now, "PID (COMM)" while several match so the list shows
# what each is; a lone match completes to the bare PID. After "12," the
# next PID of a list is completed.
_sonde_pids()
{
    local cur=$1 prefix= last=$1 p comm
    local -a pids=()

    if [[ $cur == *,* ]]; then
        prefix=${cur%,*},
        last=${cur##*,}
    fi
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$last"* ]] && pids+=("$p")
    done
    if ((${#pids[@]} == 1)); then
        COMPREPLY=("$prefix${pids[0]}")
        return
    fi
    for p in "${pids[@]}"; do
        comm=
        read -r comm 2>/dev/null </proc/"$p"/comm
        COMPREPLY+=("$prefix$p ($comm)")
    done
}

# Completes the options of a tool run as "$@" (sonde-X, or sonde X) and
# the value of the option before the cursor.
_sonde_tool()
{
    local cur=$1 prev=$2
    shift 2
    local listing line name arg choices
    local -a names=()

    listing=$("$@" --list-options 2>/dev/null) || return
    while IFS= read -r line; do
        # Fields may be empty, so no `read` splitting: tabs are IFS
        # white space, and runs of them would merge.
        name=${line%%$'\t'*} line=${line#*$'\t'}
        arg=${line%%$'\t'*} line=${line#*$'\t'}
        choices=
        [[ $line == *$'\t'* ]] && choices=${line#*$'\t'}
        names+=("$name")
        [[ $name == "$prev" && -n $arg ]] || continue
        case $name in
        -p | --pid) _sonde_pids "$cur" ;;
        -c | --cgroup) compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$cur")) ;;
        *) [[ -n $choices ]] && COMPREPLY=($(compgen -W "$choices" -- "$cur")) ;;
        esac
        return
    done <<<"$listing"
    [[ $cur == -* ]] && COMPREPLY=($(compgen -W "${names[*]}" -- "$cur"))
}

_sonde()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd=${COMP_WORDS[0]}
    COMPREPLY=()

    if [[ ${cmd##*/} != sonde ]]; then
        _sonde_tool "$cur" "$prev" "$cmd"
        return
    fi
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "list doctor shell help version $("$cmd" list --names 2>/dev/null)" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[1]} in
    help) ((COMP_CWORD == 2)) &&
        COMPREPLY=($(compgen -W "$("$cmd" list --names 2>/dev/null)" -- "$cur")) ;;
    list) COMPREPLY=($(compgen -W "--names" -- "$cur")) ;;
    doctor) COMPREPLY=($(compgen -W "-v --verbose" -- "$cur")) ;;
    shell | version) ;;
    *) _sonde_tool "$cur" "$prev" "$cmd" "${COMP_WORDS[1]}" ;;
    esac
}

complete -F _sonde sonde \
    sonde-chanlat sonde-dns sonde-fsslower sonde-gclat sonde-goroutines sonde-offcpu sonde-oomkill sonde-profile sonde-tcpconnect sonde-tcpretrans
