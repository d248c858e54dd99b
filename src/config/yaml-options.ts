/**
 * YAML reading options matching PyYAML's safe_load, which Patroni uses: YAML 1.1 scalars
 * (`on`/`off`/`yes`/`no` are booleans, `0x1F` and `010` are integers), merge keys, duplicate keys
 * allowed (last wins). Two differences from the `yaml` package's 1.1 schema are undone:
 * PyYAML does not read `y`/`n` as booleans, and timestamps stay strings here because no
 * Patroni setting is a date and a Date object would only fail type checks downstream.
 */
import {type ParseOptions, type DocumentOptions, type SchemaOptions} from 'yaml'

const BOOL_TAG = 'tag:yaml.org,2002:bool'
const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp'
const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/

type Tags = Exclude<SchemaOptions['customTags'], undefined>
type TagList = Extract<Tags, unknown[]>

function pyYamlTags(tags: TagList): TagList {
  return tags
    .filter((t) => typeof t === 'string' || t.tag !== TIMESTAMP_TAG)
    .map((t) => {
      if (typeof t === 'string' || t.tag !== BOOL_TAG || !('test' in t) || !(t.test instanceof RegExp)) return t
      return {...t, test: t.test.test('true') ? PY_TRUE : PY_FALSE}
    }) as TagList
}

export const PYYAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  uniqueKeys: false,
  merge: true,
  customTags: pyYamlTags as Tags,
}
