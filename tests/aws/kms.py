"""boto3 side of the AWS KMS tests and benchmark, run with the python of moto's or
LocalStack's venv against that server.

usage: kms.py ENDPOINT setup      < {"keys": [{"name", "aliases", "tags", "key_spec", "key_usage", "description",
                                               "origin"}]}
                                  -> {"<name>": "<key id>", ...}
                                  origin "EXTERNAL": a key whose material this script imports
                                  (never expiring), as an operator would; with "import": false
                                  it stays PendingImport
       kms.py ENDPOINT dump       -> {"keys": [{KeyId, KeyState, KeySpec, KeyUsage, Description,
                                       CreationDate, Origin, ExpirationModel, aliases, tags, rotations}]}
       kms.py ENDPOINT roundtrip KEY  -> {"decrypted": true} when KEY (id or alias) encrypts and
                                         decrypts a message, i.e. its key material works
       kms.py ENDPOINT reset      -> forgets every resource (moto's /moto-api/reset)
       kms.py ENDPOINT bench-setup N   -> N keys, each with alias/bench-<i>
       kms.py ENDPOINT bench-rotate    -> rotates every enabled customer key the way the plugin
                                          does (same calls), prints {"rotated", "seconds"}
"""
import json
import sys
import time

import boto3


def client(endpoint):
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="keywarden-test",
        aws_secret_access_key="keywarden-test-secret",
    )


def pages(kms, op, field, **kw):
    out = []
    paginator = kms.get_paginator(op)
    for page in paginator.paginate(**kw):
        out.extend(page[field])
    return out


def setup(kms, spec):
    ids = {}
    for key in spec["keys"]:
        args = {
            "KeySpec": key.get("key_spec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": key.get("key_usage", "ENCRYPT_DECRYPT"),
            "Description": key.get("description", key["name"]),
        }
        tags = key.get("tags") or {}
        if tags:
            args["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
        origin = key.get("origin", "AWS_KMS")
        args["Origin"] = origin
        key_id = kms.create_key(**args)["KeyMetadata"]["KeyId"]
        if origin == "EXTERNAL" and key.get("import", True):
            import_material(kms, key_id)
        for alias in key.get("aliases", []):
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        ids[key["name"]] = key_id
    return ids


def import_material(kms, key_id):
    """256 random bits wrapped with RSAES-OAEP-SHA-256 and imported, never expiring."""
    import os

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=public.encrypt(os.urandom(32), oaep),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )


def roundtrip(kms, key):
    message = b"keywarden roundtrip"
    blob = kms.encrypt(KeyId=key, Plaintext=message)["CiphertextBlob"]
    return {"decrypted": kms.decrypt(CiphertextBlob=blob)["Plaintext"] == message}


def list_rotations(kms, key_id):
    """KMS's rotation history of a key; None where the server lacks ListKeyRotations
    (LocalStack's community KMS)."""
    try:
        return kms.list_key_rotations(KeyId=key_id).get("Rotations", [])
    except kms.exceptions.ClientError as e:
        if "not yet been emulated" in str(e) or "not available" in str(e):
            return None
        raise


def dump(kms):
    aliases = {}
    for a in pages(kms, "list_aliases", "Aliases"):
        if a.get("TargetKeyId"):
            aliases.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
    keys = []
    for k in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags", [])}
        rotations = list_rotations(kms, k["KeyId"])
        keys.append({
            "KeyId": meta["KeyId"],
            "KeyState": meta["KeyState"],
            "KeySpec": meta.get("KeySpec"),
            "KeyUsage": meta.get("KeyUsage"),
            "Description": meta.get("Description"),
            "CreationDate": meta["CreationDate"].isoformat(),
            "Origin": meta.get("Origin"),
            "ExpirationModel": meta.get("ExpirationModel"),
            "aliases": sorted(aliases.get(meta["KeyId"], [])),
            "tags": tags,
            "rotations": None if rotations is None else len(rotations),
        })
    return {"keys": keys}


def bench_setup(kms, n):
    for i in range(n):
        key_id = kms.create_key(Description=f"bench {i}", Tags=[{"TagKey": "bench", "TagValue": "yes"}])["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/bench-{i}", TargetKeyId=key_id)
    return {"created": n}


def bench_rotate(kms):
    """The plugin's calls for new_key rotation, in a plain loop."""
    started = time.perf_counter()
    aliases = {}
    for a in pages(kms, "list_aliases", "Aliases"):
        if a.get("TargetKeyId"):
            aliases.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
    rotated = 0
    for k in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "CUSTOMER" or meta["KeyState"] != "Enabled":
            continue
        tags = kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags", [])
        args = {
            "KeySpec": meta.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": meta.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "Description": meta.get("Description", ""),
        }
        if tags:
            args["Tags"] = tags
        new_id = kms.create_key(**args)["KeyMetadata"]["KeyId"]
        for alias in aliases.get(k["KeyId"], []):
            kms.update_alias(AliasName=alias, TargetKeyId=new_id)
        kms.disable_key(KeyId=k["KeyId"])
        rotated += 1
    return {"rotated": rotated, "seconds": time.perf_counter() - started}


def main():
    endpoint, command = sys.argv[1], sys.argv[2]
    kms = client(endpoint)
    if command == "setup":
        out = setup(kms, json.load(sys.stdin))
    elif command == "dump":
        out = dump(kms)
    elif command == "roundtrip":
        out = roundtrip(kms, sys.argv[3])
    elif command == "reset":
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b""))
        out = {"reset": True}
    elif command == "bench-setup":
        out = bench_setup(kms, int(sys.argv[3]))
    elif command == "bench-rotate":
        out = bench_rotate(kms)
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
