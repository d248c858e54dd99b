export {NodeProcessRunner} from './node-process-runner'
export {descendants, parseProcStat, procInfo} from './proc-fs'
