/**
 * Protocol schemas built at run time: the build tools' worker protocols (Bazel's blaze.worker, Buck2's
 * worker) are written here as FileDescriptorProtos by hand, from their .proto files, and registered with
 * @bufbuild/protobuf, which then encodes and decodes them itself. No protoc and no generated code: a
 * protocol is a few lines of field numbers and types, which are its wire format.
 *
 * @module
 */

import {
  create,
  createFileRegistry,
  type Message,
  type MessageInitShape,
  type Registry,
} from "@bufbuild/protobuf";
import type { GenMessage, GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

export { Type };

/** How a field is declared besides its name, number and type. */
export interface FieldShape {
  /** A repeated field (default: a singular one). */
  repeated?: boolean;
  /** The fully qualified type of a message field, such as `.worker.ExecuteCommand`. */
  typeName?: string;
  /** The oneof this field belongs to, by its index in the message's `oneofDecl`. */
  oneofIndex?: number;
  /**
   * A proto3 `optional` field (explicit presence), in the oneof at `oneofIndex`, which must be the
   * synthetic oneof protoc declares for it (`_<name>`, after the message's real oneofs).
   */
  proto3Optional?: boolean;
}

/** A field of a hand-written descriptor; the JSON name is what proto3 JSON uses (lowerCamelCase). */
export function field(name: string, number: number, type: Type, shape: FieldShape = {}) {
  const jsonName = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return {
    name,
    number,
    type,
    label: shape.repeated ? Label.REPEATED : Label.OPTIONAL,
    jsonName,
    ...shape.typeName === undefined ? {} : { typeName: shape.typeName },
    ...shape.oneofIndex === undefined ? {} : { oneofIndex: shape.oneofIndex },
    ...shape.proto3Optional ? { proto3Optional: true } : {},
  };
}

/** One .proto file: its name, package and declarations (messages, services); always proto3. */
export type ProtoFile = MessageInitShape<typeof FileDescriptorProtoSchema>;

/** A protocol's schema: its messages and services, looked up by fully qualified name. */
export class ProtoSchema {
  readonly #registry: Registry;

  /** Registers one self-contained proto3 file (it may import nothing). */
  constructor(file: ProtoFile) {
    const proto = create(FileDescriptorProtoSchema, file);
    proto.syntax = "proto3";
    this.#registry = createFileRegistry(proto, () => undefined);
  }

  /** The descriptor of a message, typed as the caller declares its shape. */
  message<T extends Message>(name: string): GenMessage<T> {
    const desc = this.#registry.getMessage(name);
    if (desc === undefined) throw new Error(`internal error: no message ${name}`);
    return desc as GenMessage<T>;
  }

  /** The descriptor of a service, typed as the caller declares its methods. */
  service<T extends GenServiceMethods>(name: string): GenService<T> {
    const desc = this.#registry.getService(name);
    if (desc === undefined) throw new Error(`internal error: no service ${name}`);
    return desc as unknown as GenService<T>;
  }
}
