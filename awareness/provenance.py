"""Content Credentials (C2PA) on every file Retake writes: sign them, and check them.

Retake makes synthetic speech and faces, so each wav/mp4 it writes carries a signed C2PA
manifest saying so: what it was edited from (ingredients, by SHA-256), what was done
(`c2pa.opened`, then `c2pa.edited` actions, with the synthesized time ranges and the IPTC
digital source type for media made with a trained model), and how the speaker's consent was
given (`org.retake.consent`). `verify` reads it back and says whether it still matches the
bytes.

Signing identity. Offline and with no account, Retake signs with a local identity it makes on
first use: a root CA and a signing certificate issued by it (ECDSA P-256, ES256), kept in
`$RETAKE_KEYS` or `~/.config/retake/keys` (keys mode 0600). C2PA rejects a self-signed leaf,
hence the two levels. Nobody else trusts that root, so elsewhere a Retake file reads as
"Valid" (intact, signer unknown) with `signingCredential.untrusted`; on the machine that made
it, `verify(trust_local=True)` adds the local root as a trust anchor and it reads "Trusted".

A real deployment would instead use: a signing certificate from a CA on the C2PA trust list
(so any reader shows it as trusted); the private key held in an HSM or a cloud KMS, reached
through `c2pa.Signer.from_callback`, never in a file; and a timestamp authority (`ta_url`),
so signatures stay valid after the certificate expires.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from retake.core.atomic import atomic_group, atomic_path
from retake.core.errors import RetakeError
from retake.core.version import __version__

if TYPE_CHECKING:
    import c2pa

#: Environment variable naming the folder of the local signing identity.
KEYS_ENV = "RETAKE_KEYS"
#: Label of Retake's consent assertion.
CONSENT_LABEL = "org.retake.consent"
#: IPTC digital source types: an edit of a real recording with parts a trained model made,
#: and media made entirely by one.
COMPOSITE_TRAINED = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia")
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

# C2PA accepts these extended key usages for claim signing; this c2pa-rs (0.91) rejects a
# certificate with documentSigning alone, so the signer carries emailProtection too.
_EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
_EKU_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
_ROOT_YEARS, _SIGNER_YEARS, _RENEW_DAYS = 20, 5, 30
_FILES = ("root.pem", "root.key", "signer.pem", "signer.key")
# Signing in bounded memory: c2pa-rs hashes an mp4's media data in one piece and builds
# the signed file in a memory buffer, so by default a 300 MB video took ~650 MB to sign
# (two copies). A Merkle tree of 1 MB chunks (C2PA's BMFF hash with `merkle`) lets it hash
# piecewise, and a 16 MB backing-store threshold spools the output buffer to a temp file:
# the same file signs in ~45 MB and still reads "Trusted" (a changed byte: bmffHash.mismatch).
# The tree adds ~250 bytes of manifest per MB of video.
_SIGN_SETTINGS = {"core": {"merkle_tree_chunk_size_in_kb": 1024,
                           "backing_store_memory_threshold_in_mb": 16}}

_FORMATS = {
    ".wav": "audio/wav", ".mp4": "video/mp4", ".m4a": "audio/mp4", ".mov": "video/quicktime",
    ".mp3": "audio/mpeg", ".flac": "audio/flac", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


class ProvenanceError(RetakeError):
    """A file could not be signed or read for Content Credentials."""


@dataclass(frozen=True)
class Identity:
    """A signing certificate with its key, and the root that issued it (all PEM)."""

    folder: Path
    root_pem: bytes
    signer_pem: bytes
    signer_key_pem: bytes

    @property
    def name(self) -> str:
        """The signing certificate's common name."""
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(self.signer_pem)
        return cert.subject.rfc4514_string()

    def signer(self) -> c2pa.Signer:
        """A fresh `c2pa.Signer` (each is used up by one signature)."""
        import c2pa

        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.signer_pem,
                                   self.signer_key_pem, None)
        return c2pa.Signer.from_info(info)


@dataclass
class Verification:
    """What a file's Content Credentials say, and whether they still hold.

    state: "Trusted" (intact, signer chains to a trusted root), "Valid" (intact, signer not
    trusted here: see `failures`), "Invalid" (the file or manifest changed after signing),
    or "None" (no manifest at all).
    """

    path: Path
    state: str
    failures: list[str] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    synthetic_spans: list[tuple[float, float]] = field(default_factory=list)
    ingredients: list[dict] = field(default_factory=list)
    consent: dict | None = None
    signer: str = ""
    title: str = ""

    @property
    def intact(self) -> bool:
        """True when a manifest exists and the bytes still match it."""
        return self.state in ("Trusted", "Valid")

    def summary(self) -> str:
        """A few lines for a person: verdict, signer, sources, edits, consent, problems."""
        if self.state == "None":
            return (f"{self.path.name}: no Content Credentials (never signed, or they were "
                    "stripped); nothing can be said about how it was made")
        verdict = {"Trusted": "intact, signer trusted",
                   "Valid": "intact, signer not trusted here",
                   "Invalid": "CHANGED after signing or damaged"}.get(self.state, self.state)
        lines = [f"{self.path.name}: {self.state} ({verdict})"]
        if self.state == "Invalid":
            lines.append("  what follows was claimed before the change; it no longer vouches "
                         "for this file")
        if self.signer:
            lines.append(f"  signed by: {self.signer}")
        for ing in self.ingredients:
            digest = ing.get("sha256") or ""
            lines.append(f"  {ing.get('relationship', 'ingredient')}: {ing.get('title', '?')}"
                         + (f" (sha256 {digest[:16]}…)" if digest else ""))
        for act in self.actions:
            name = str(act.get("action", "?")).removeprefix("c2pa.")
            desc = act.get("description")
            lines.append(f"  action: {name}" + (f": {desc}" if desc else ""))
        if self.synthetic_spans:
            lines.append("  synthesized: " + ", ".join(
                f"{a:.2f}-{b:.2f} s" for a, b in self.synthetic_spans))
        if self.consent:
            lines.append("  consent: " + _consent_line(self.consent))
        elif self.state != "Invalid":
            lines.append("  consent: not recorded")
        for code, why in zip(self.failures, self.explanations, strict=False):
            lines.append(f"  problem: {code}" + (f" ({why})" if why else ""))
        return "\n".join(lines)


def keys_folder(folder: str | os.PathLike | None = None) -> Path:
    """Where the local identity lives: `folder`, else $RETAKE_KEYS, else ~/.config/retake/keys."""
    if folder is not None:
        return Path(folder).expanduser()
    env = os.environ.get(KEYS_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "retake" / "keys"


def load_identity(folder: str | os.PathLike | None = None) -> Identity | None:
    """The local identity if it has been made, else None (never creates anything)."""
    root = keys_folder(folder)
    paths = [root / name for name in _FILES]
    if not all(p.is_file() for p in paths):
        return None
    try:
        root_pem, _, signer_pem, key_pem = (p.read_bytes() for p in paths)
    except OSError as exc:
        raise ProvenanceError(f"cannot read the signing keys in {root}: {exc.strerror}") from None
    return Identity(root, root_pem, signer_pem, key_pem)


def ensure_local_identity(folder: str | os.PathLike | None = None) -> Identity:
    """Return the local signing identity, creating it on first use.

    Makes a root CA and a signing certificate issued by it, written atomically (keys mode
    0600) into `keys_folder(folder)`. Later calls reuse them; a signing certificate within
    30 days of expiry is re-issued by the same root, so older files stay trusted.
    """
    root_dir = keys_folder(folder)
    try:
        root_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvenanceError(f"cannot create the keys folder {root_dir}: {exc.strerror}; "
                              f"set {KEYS_ENV} to a writable folder") from None
    found = load_identity(root_dir)
    if found is not None and not _expiring(found.signer_pem):
        return found
    root_cert, root_key = _read_root(root_dir)
    if root_cert is None:
        root_cert, root_key = _make_root()
    signer_cert, signer_key = _make_signer(root_cert, root_key)
    contents = [_pem_cert(root_cert), _pem_key(root_key), _pem_cert(signer_cert),
                _pem_key(signer_key)]
    with atomic_group([root_dir / n for n in _FILES], private=True) as tmps:  # keys: 0600
        for tmp, data in zip(tmps, contents, strict=True):
            Path(tmp).write_bytes(data)
    return Identity(root_dir, contents[0], contents[2], contents[3])


@dataclass(frozen=True)
class Provenance:
    """What an output's Content Credentials record beyond the edit itself, in one object.

    `consent`: the consent record (`ConsentRecord.to_dict()`), None when not recorded.
    `ingredients`: inputs used besides the edited file (a source photo, a consent take).
    `sign`: False only for internal intermediates that are never published.
    """

    consent: dict | None = None
    ingredients: tuple[Path, ...] = ()
    sign: bool = True
    identity: Identity | None = None

    def sign_file(self, path: str | os.PathLike, actions: list[dict],
                  edited: list[str | os.PathLike],
                  synthetic_spans: list[tuple[float, float]] | None = None,
                  title: str | None = None) -> None:
        """Sign `path` (usually a temporary file not yet published) with `actions`; the
        `edited` files come first among the ingredients, then this object's own."""
        if not self.sign:
            return
        extra = [Path(p) for p in self.ingredients if p and Path(p).is_file()]
        sign(path, actions, [*(Path(p) for p in edited), *extra], synthetic_spans,
             title, self.identity, self.consent)


def edit_action(description: str, spans: list[tuple[float, float]] | None = None,
                source_type: str = COMPOSITE_TRAINED) -> dict:
    """A `c2pa.edited` action made with a trained model, e.g. "face swapped" or "lip-synced",
    with the time ranges (seconds) it changed, if known."""
    action: dict = {"action": "c2pa.edited", "description": description,
                    "digitalSourceType": source_type}
    if spans:
        action["changes"] = [_temporal(a, b) for a, b in _check_spans(spans)]
    return action


def sign(
    path: str | os.PathLike,
    actions: list[dict],
    ingredients: list[str | os.PathLike],
    synthetic_spans: list[tuple[float, float]] | None = None,
    title: str | None = None,
    identity: Identity | None = None,
    consent: dict | None = None,
) -> None:
    """Embed a signed C2PA manifest into the file at `path`, in place and atomically.

    `actions` are C2PA action dicts (see `edit_action`); a leading `c2pa.opened` (linked to
    the first ingredient) or `c2pa.created` (when there are none) is added if missing.
    `ingredients` are the input files, the first being the one edited (parentOf), the rest
    used in making it (componentOf); each is recorded by title and SHA-256, and its own
    Content Credentials are kept when it has some. `synthetic_spans` (seconds) adds a
    `c2pa.edited` action marking the synthesized time ranges. `consent` is stored as the
    `org.retake.consent` assertion (see `align.consent.ConsentRecord.to_dict`).
    """
    import c2pa

    path = Path(path)
    fmt = _format(path)
    if not path.is_file():
        raise ProvenanceError(f"{path}: no such file to sign")
    ing_paths = [Path(p) for p in ingredients]
    for p in ing_paths:
        if not p.is_file():
            raise ProvenanceError(f"{path}: the ingredient {p} does not exist")
    identity = identity or ensure_local_identity()
    manifest = _manifest(title or path.name, ing_paths, actions, synthetic_spans, consent)
    stream_ingredients = [(i, p) for i, p in enumerate(ing_paths) if p.suffix.lower() in _FORMATS]
    try:
        with (c2pa.Context.from_dict(_SIGN_SETTINGS) as ctx,
              c2pa.Builder(manifest, ctx) as builder):
            for i, p in stream_ingredients:
                with open(p, "rb") as fh:
                    builder.add_ingredient(_ingredient(i, p), _FORMATS[p.suffix.lower()], fh)
            with (identity.signer() as signer, atomic_path(path) as tmp,
                  open(path, "rb") as src, open(tmp, "w+b") as dst):
                builder.sign(signer, fmt, src, dst)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"{path}: could not sign ({_short(exc)})") from None
    except OSError as exc:
        raise ProvenanceError(f"{path}: could not sign ({exc.strerror or exc})") from None


def verify(path: str | os.PathLike, trust_local: bool = True,
           identity: Identity | None = None) -> Verification:
    """Read and check the Content Credentials of `path`.

    With `trust_local` the local Retake root (of `identity`, else the one in the keys folder,
    if made) is a trust anchor, so this machine's own files read "Trusted"; without it they
    read "Valid" with `signingCredential.untrusted`. A file without a manifest gives state
    "None"; changed bytes give "Invalid" with the failure codes.
    """
    import c2pa

    path = Path(path)
    fmt = _format(path)
    if not path.is_file():
        raise ProvenanceError(f"{path}: no such file to verify")
    if trust_local and identity is None:
        identity = load_identity()
    try:
        with _reader_context(identity if trust_local else None) as ctx, open(path, "rb") as fh:
            reader = c2pa.Reader.try_create(fmt, fh, None, ctx)
            if reader is None:
                return Verification(path, "None")
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state() or "Invalid"
                results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        return Verification(path, "Invalid", ["manifest.unreadable"], [_short(exc)])
    except OSError as exc:
        raise ProvenanceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _verification(path, state, store, results)


# ---- manifest building ----------------------------------------------------------------


def _manifest(title: str, ingredients: list[Path], actions: list[dict],
              spans: list[tuple[float, float]] | None, consent: dict | None) -> dict:
    agent = {"name": "Retake", "version": __version__}
    acts = [dict(a) for a in actions]
    for a in acts:
        if not isinstance(a.get("action"), str):
            raise ProvenanceError(f"an action needs an 'action' name, got {a!r}")
    if not acts or acts[0]["action"] not in ("c2pa.opened", "c2pa.created"):
        acts.insert(0, {"action": "c2pa.opened"} if ingredients
                    else {"action": "c2pa.created", "digitalSourceType": TRAINED})
    first = acts[0]
    if first["action"] == "c2pa.opened":
        if not ingredients:
            raise ProvenanceError("c2pa.opened needs the opened file as the first ingredient")
        first.setdefault("parameters", {}).setdefault("ingredientIds", [_label(0)])
    if spans:
        acts.append(edit_action("speech synthesized by Retake in the speaker's voice", spans))
    for a in acts:
        a.setdefault("softwareAgent", agent)
    assertions: list[dict] = [{"label": "c2pa.actions", "data": {"actions": acts}}]
    if consent is not None:
        assertions.append({"label": CONSENT_LABEL, "data": consent})
    plain = [_ingredient(i, p) | {"format": "application/octet-stream"}
             for i, p in enumerate(ingredients) if p.suffix.lower() not in _FORMATS]
    return {"claim_generator_info": [agent], "title": title, "assertions": assertions,
            "ingredients": plain}


def _ingredient(index: int, path: Path) -> dict:
    return {"title": path.name, "label": _label(index),
            "relationship": "parentOf" if index == 0 else "componentOf",
            "metadata": {"org.retake.sha256": _sha256(path)}}


def _label(index: int) -> str:
    return f"retake-ingredient-{index}"


def _temporal(start: float, end: float) -> dict:
    return {"region": [{"type": "temporal",
                        "time": {"type": "npt", "start": f"{start:.3f}", "end": f"{end:.3f}"}}],
            "description": "synthesized"}


def _check_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a, b in spans:
        if not (0 <= float(a) < float(b)):
            raise ProvenanceError(f"a synthesized span must run forward from 0 s, got {a}-{b}")
        out.append((float(a), float(b)))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _format(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ProvenanceError(f"{path}: cannot carry Content Credentials; use one of "
                              + ", ".join(sorted(_FORMATS)))
    return fmt



# ---- reading ------------------------------------------------------------------------


@contextlib.contextmanager
def _reader_context(identity: Identity | None) -> Iterator[object | None]:
    import c2pa

    if identity is None:
        yield None
        return
    settings = {"verify": {"verify_trust": True},
                "trust": {"user_anchors": identity.root_pem.decode("ascii")}}
    with c2pa.Context.from_dict(settings) as ctx:
        yield ctx


def _verification(path: Path, state: str, store: dict, results: dict) -> Verification:
    manifest = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    failures = list(results.get("activeManifest", {}).get("failure", []))
    for delta in results.get("ingredientDeltas", []):
        failures += delta.get("validationDeltas", {}).get("failure", [])
    actions: list[dict] = []
    consent = None
    for assertion in manifest.get("assertions", []):
        label = assertion.get("label", "")
        if label.startswith("c2pa.actions"):
            actions += assertion.get("data", {}).get("actions", [])
        elif label == CONSENT_LABEL:
            consent = assertion.get("data")
    info = manifest.get("signature_info", {})
    signer = ", ".join(s for s in (info.get("common_name"), info.get("issuer")) if s)
    ingredients = [{"title": i.get("title", ""), "format": i.get("format", ""),
                    "relationship": i.get("relationship", ""),
                    "sha256": i.get("metadata", {}).get("org.retake.sha256", "")}
                   for i in manifest.get("ingredients", [])]
    return Verification(
        path, state, [f.get("code", "") for f in failures],
        [f.get("explanation", "") for f in failures], actions, _synthetic_spans(actions),
        ingredients, consent, signer, manifest.get("title", ""))


def _synthetic_spans(actions: list[dict]) -> list[tuple[float, float]]:
    """Time ranges of actions a trained model made, from their temporal `changes` regions."""
    spans = []
    for a in actions:
        if "trainedalgorithmicmedia" not in str(a.get("digitalSourceType", "")).lower():
            continue
        for change in a.get("changes", []):
            for rng in change.get("region", []):
                time = rng.get("time") or {}
                if rng.get("type") == "temporal" and "start" in time and "end" in time:
                    with contextlib.suppress(TypeError, ValueError):
                        spans.append((float(time["start"]), float(time["end"])))
    return sorted(set(spans))


def _consent_line(consent: dict) -> str:
    mode = consent.get("mode", "?")
    when = consent.get("timestamp", "")
    who = consent.get("who") or "the speaker"
    result = consent.get("result")
    if mode == "recording" and isinstance(result, dict):
        verdict = "passed" if result.get("ok") else "FAILED"
        return (f"{who} read the consent statement ({verdict}: words "
                f"{100 * float(result.get('words_found', 0)):.0f}%, voice similarity "
                f"{float(result.get('similarity', 0)):.2f}) {when}").rstrip()
    return f"{mode} by {who} {when}".rstrip()


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---- keys and certificates ------------------------------------------------------------


def _read_root(folder: Path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = folder / "root.pem", folder / "root.key"
    if not (cert_path.is_file() and key_path.is_file()):
        return None, None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ProvenanceError(f"the local root CA in {folder} is unreadable ({exc}); move the "
                              "folder away to make a new one") from None
    return cert, key


def _expiring(signer_pem: bytes) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(signer_pem)
    except ValueError:
        return True
    return cert.not_valid_after_utc - _now() < dt.timedelta(days=_RENEW_DAYS)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                         "Retake (local, not publicly trusted)")])


def _key_usage(sign: bool):
    from cryptography import x509

    return x509.KeyUsage(digital_signature=sign, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not sign, crl_sign=not sign, encipher_only=False,
                         decipher_only=False)


def fingerprint(public_key) -> str:
    """First 16 hex digits of the SHA-256 of a public key (DER): names this install's keys."""
    import hashlib

    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def _make_root():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name, now = _name(f"Retake local root CA {fingerprint(key.public_key())}"), _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365 * _ROOT_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _make_signer(root_cert, root_key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ObjectIdentifier

    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    eku = x509.ExtendedKeyUsage([ObjectIdentifier(_EKU_EMAIL_PROTECTION),
                                 ObjectIdentifier(_EKU_DOCUMENT_SIGNING)])
    # The install's own root fingerprint in the name: two installs never sign as one.
    who = f"Retake local signer {fingerprint(root_key.public_key())}"
    cert = (x509.CertificateBuilder().subject_name(_name(who))
            .issuer_name(root_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(min(now + dt.timedelta(days=365 * _SIGNER_YEARS),
                                 root_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(sign=True), critical=True)
            .add_extension(eku, critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    return cert, key


def _pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
