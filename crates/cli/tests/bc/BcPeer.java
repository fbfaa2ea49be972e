// The Bouncy Castle peer of crates/cli/tests/smime_bc_interop.rs: signs, verifies, encrypts
// and decrypts raw CMS (DER files) with Bouncy Castle's bcpkix, so the test can check Cachet
// against it in both directions. Compiled by the test against the Debian jars
// (libbcprov-java, libbcpkix-java, libbcutil-java).
//
//   verify  ROOT.pem SIG.der OUT [CONTENT]   exit 0 and "VERIFIED <subject>" per signer when
//                                           every signature and its chain to ROOT is good;
//                                           writes the signed content to OUT
//   sign    CERT.pem KEY.pem CHAIN.pem IN OUT (opaque|detached) [ski]   ski: signer
//                                           identified by subjectKeyIdentifier
//   encrypt CERT.pem IN OUT CIPHER [oaep]   CIPHER: aes-256-cbc aes-128-cbc aes-256-gcm aes-128-gcm
//   decrypt CERT.pem KEY.pem IN OUT
//
// Any failure prints "FAILED: <exception>" on stderr and exits 1.

import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Security;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertStore;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.cms.CMSObjectIdentifiers;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSAuthEnvelopedData;
import org.bouncycastle.cms.CMSAuthEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSEnvelopedData;
import org.bouncycastle.cms.CMSEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.CMSTypedData;
import org.bouncycastle.cms.Recipient;
import org.bouncycastle.cms.RecipientInformation;
import org.bouncycastle.cms.RecipientInformationStore;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyAgreeEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyAgreeRecipientInfoGenerator;
import org.bouncycastle.cms.jcajce.JceKeyTransEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyTransRecipientInfoGenerator;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.jcajce.JcaAlgorithmParametersConverter;

public class BcPeer {
    public static void main(String[] args) {
        Security.addProvider(new BouncyCastleProvider());
        try {
            switch (args[0]) {
                case "verify" -> verify(args);
                case "sign" -> sign(args);
                case "encrypt" -> encrypt(args);
                case "decrypt" -> decrypt(args);
                default -> throw new IllegalArgumentException("unknown command " + args[0]);
            }
        } catch (Exception e) {
            System.err.println("FAILED: " + e);
            System.exit(1);
        }
    }

    static List<X509Certificate> certs(String path) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        try (PEMParser p = new PEMParser(new FileReader(path))) {
            Object o;
            while ((o = p.readObject()) != null) {
                out.add(new JcaX509CertificateConverter().setProvider("BC")
                        .getCertificate((X509CertificateHolder) o));
            }
        }
        return out;
    }

    static PrivateKey key(String path) throws Exception {
        try (PEMParser p = new PEMParser(new FileReader(path))) {
            return new JcaPEMKeyConverter().setProvider("BC")
                    .getPrivateKey((PrivateKeyInfo) p.readObject());
        }
    }

    static void verify(String[] a) throws Exception {
        X509Certificate root = certs(a[1]).get(0);
        byte[] sig = Files.readAllBytes(Path.of(a[2]));
        CMSSignedData sd = a.length > 4
                ? new CMSSignedData(new CMSProcessableByteArray(Files.readAllBytes(Path.of(a[4]))), sig)
                : new CMSSignedData(sig);
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter().setProvider("BC");
        List<X509Certificate> carried = new ArrayList<>();
        for (X509CertificateHolder h : sd.getCertificates().getMatches(null)) {
            carried.add(conv.getCertificate(h));
        }
        CertStore store = CertStore.getInstance("Collection",
                new CollectionCertStoreParameters(carried), "BC");
        Collection<SignerInformation> signers = sd.getSignerInfos().getSigners();
        if (signers.isEmpty()) {
            throw new IllegalStateException("no signers");
        }
        for (SignerInformation si : signers) {
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> m = sd.getCertificates().getMatches(si.getSID());
            if (m.isEmpty()) {
                throw new IllegalStateException("signer certificate not carried");
            }
            X509Certificate cert = conv.getCertificate(m.iterator().next());
            if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert))) {
                throw new IllegalStateException("bad signature by " + cert.getSubjectX500Principal());
            }
            X509CertSelector sel = new X509CertSelector();
            sel.setCertificate(cert);
            PKIXBuilderParameters params = new PKIXBuilderParameters(
                    Collections.singleton(new TrustAnchor(root, null)), sel);
            params.addCertStore(store);
            params.setRevocationEnabled(false);
            CertPathBuilder.getInstance("PKIX", "BC").build(params);
            System.out.println("VERIFIED " + cert.getSubjectX500Principal().getName());
        }
        byte[] content = (byte[]) sd.getSignedContent().getContent();
        Files.write(Path.of(a[3]), content);
    }

    static void sign(String[] a) throws Exception {
        X509Certificate cert = certs(a[1]).get(0);
        PrivateKey key = key(a[2]);
        List<X509Certificate> chain = new ArrayList<>(certs(a[3]));
        chain.add(0, cert);
        byte[] data = Files.readAllBytes(Path.of(a[4]));
        String alg = key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        JcaSimpleSignerInfoGeneratorBuilder b = new JcaSimpleSignerInfoGeneratorBuilder().setProvider("BC");
        if (a.length > 7 && a[7].equals("ski")) {
            byte[] ski = org.bouncycastle.asn1.x509.SubjectKeyIdentifier.fromExtensions(
                    new org.bouncycastle.cert.jcajce.JcaX509CertificateHolder(cert).getExtensions())
                    .getKeyIdentifier();
            gen.addSignerInfoGenerator(b.build(alg, key, ski));
        } else {
            gen.addSignerInfoGenerator(b.build(alg, key, cert));
        }
        gen.addCertificates(new JcaCertStore(chain));
        CMSTypedData msg = new CMSProcessableByteArray(data);
        CMSSignedData sd = gen.generate(msg, a[6].equals("opaque"));
        Files.write(Path.of(a[5]), sd.getEncoded("DER"));
    }

    static ASN1ObjectIdentifier cipher(String name) {
        return switch (name) {
            case "aes-256-cbc" -> CMSAlgorithm.AES256_CBC;
            case "aes-128-cbc" -> CMSAlgorithm.AES128_CBC;
            case "aes-256-gcm" -> CMSAlgorithm.AES256_GCM;
            case "aes-128-gcm" -> CMSAlgorithm.AES128_GCM;
            default -> throw new IllegalArgumentException("unknown cipher " + name);
        };
    }

    static void encrypt(String[] a) throws Exception {
        X509Certificate cert = certs(a[1]).get(0);
        byte[] data = Files.readAllBytes(Path.of(a[2]));
        String cipherName = a[4];
        boolean oaep = a.length > 5 && a[5].equals("oaep");
        boolean gcm = cipherName.endsWith("gcm");
        org.bouncycastle.cms.RecipientInfoGenerator rig;
        if (cert.getPublicKey().getAlgorithm().equals("RSA")) {
            if (oaep) {
                OAEPParameterSpec spec = new OAEPParameterSpec("SHA-256", "MGF1",
                        MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT);
                rig = new JceKeyTransRecipientInfoGenerator(cert, new JcaAlgorithmParametersConverter()
                        .getAlgorithmIdentifier(PKCSObjectIdentifiers.id_RSAES_OAEP, spec)).setProvider("BC");
            } else {
                rig = new JceKeyTransRecipientInfoGenerator(cert).setProvider("BC");
            }
        } else {
            KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", "BC");
            kpg.initialize(((ECPublicKey) cert.getPublicKey()).getParams());
            KeyPair eph = kpg.generateKeyPair();
            ASN1ObjectIdentifier wrap = cipherName.startsWith("aes-256")
                    ? CMSAlgorithm.AES256_WRAP : CMSAlgorithm.AES128_WRAP;
            rig = new JceKeyAgreeRecipientInfoGenerator(CMSAlgorithm.ECDH_SHA256KDF,
                    eph.getPrivate(), eph.getPublic(), wrap).addRecipient(cert).setProvider("BC");
        }
        JceCMSContentEncryptorBuilder enc = new JceCMSContentEncryptorBuilder(cipher(cipherName))
                .setProvider("BC");
        byte[] out;
        if (gcm) {
            CMSAuthEnvelopedDataGenerator gen = new CMSAuthEnvelopedDataGenerator();
            gen.addRecipientInfoGenerator(rig);
            out = gen.generate(new CMSProcessableByteArray(data),
                    (org.bouncycastle.operator.OutputAEADEncryptor) enc.build()).getEncoded();
        } else {
            CMSEnvelopedDataGenerator gen = new CMSEnvelopedDataGenerator();
            gen.addRecipientInfoGenerator(rig);
            out = gen.generate(new CMSProcessableByteArray(data), enc.build()).getEncoded();
        }
        Files.write(Path.of(a[3]), out);
    }

    static void decrypt(String[] a) throws Exception {
        X509Certificate cert = certs(a[1]).get(0);
        PrivateKey key = key(a[2]);
        byte[] in = Files.readAllBytes(Path.of(a[3]));
        ContentInfo ci = ContentInfo.getInstance(in);
        boolean auth = ci.getContentType().equals(CMSObjectIdentifiers.authEnvelopedData);
        RecipientInformationStore store = auth
                ? new CMSAuthEnvelopedData(ci).getRecipientInfos()
                : new CMSEnvelopedData(ci).getRecipientInfos();
        boolean rsa = key.getAlgorithm().equals("RSA");
        Recipient r = rsa
                ? new JceKeyTransEnvelopedRecipient(key).setProvider("BC")
                : new JceKeyAgreeEnvelopedRecipient(key).setProvider("BC");
        org.bouncycastle.cms.RecipientId rid = rsa
                ? new org.bouncycastle.cms.jcajce.JceKeyTransRecipientId(cert)
                : new org.bouncycastle.cms.jcajce.JceKeyAgreeRecipientId(cert);
        RecipientInformation ri = store.get(rid);
        if (ri == null) {
            throw new IllegalStateException("no recipient info for " + cert.getSubjectX500Principal());
        }
        Files.write(Path.of(a[4]), ri.getContent(r));
    }
}
